#!/usr/bin/env python3
"""Ark end-to-end encryption from Python's standard library alone, through `ark-e2ee proxy`.

Start the proxy (it encrypts every request that carries `x-is-encrypted: true`):

    ark-e2ee proxy --upstream https://ark.cn-beijing.volces.com/api/v3

then, with ARK_API_KEY set:

    python3 chat.py --model ep-2024xxxx "What is the capital of France?"
    python3 chat.py --model ep-2024xxxx --stream "Tell me a story"

The base URL is the proxy root: --base-url, else $ARK_PROXY_URL, else http://127.0.0.1:8787.
The model is --model, else $ARK_MODEL. The answer goes to stdout (streamed answers as they
come); an HTTP error prints the status and body to stderr and exits with code 1.
This script sends `x-is-encrypted: true`, so it is meant to talk to the proxy, not to Ark.
"""
import argparse
import json
import os
import sys
import urllib.error
import urllib.request


def chat_request(base_url, api_key, model, question, stream):
    body = {"model": model, "messages": [{"role": "user", "content": question}]}
    if stream:
        body["stream"] = True
    headers = {
        "Content-Type": "application/json",
        "Accept": "text/event-stream" if stream else "application/json",
        "x-is-encrypted": "true",
    }
    if api_key:
        headers["Authorization"] = "Bearer " + api_key
    return urllib.request.Request(
        base_url.rstrip("/") + "/chat/completions",
        data=json.dumps(body).encode("utf-8"),
        headers=headers,
        method="POST",
    )


def print_stream(response):
    """Reads the server-sent events line by line and prints each piece of the answer."""
    for raw in response:
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line.startswith("data:"):
            continue  # blank lines between events, comments, other fields
        data = line[len("data:"):].strip()
        if data == "[DONE]":
            break
        chunk = json.loads(data)
        for choice in chunk.get("choices") or []:
            piece = (choice.get("delta") or {}).get("content")
            if piece:
                sys.stdout.write(piece)
                sys.stdout.flush()
    sys.stdout.write("\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("question", nargs="?", default="Hello!")
    parser.add_argument("--base-url", default=os.environ.get("ARK_PROXY_URL", "http://127.0.0.1:8787"))
    parser.add_argument("--model", default=os.environ.get("ARK_MODEL"))
    parser.add_argument("--stream", action="store_true")
    args = parser.parse_args()
    if not args.model:
        parser.error("give --model or set ARK_MODEL")

    request = chat_request(args.base_url, os.environ.get("ARK_API_KEY"), args.model, args.question, args.stream)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            if args.stream:
                print_stream(response)
            else:
                answer = json.loads(response.read().decode("utf-8"))
                print(answer["choices"][0]["message"]["content"])
    except urllib.error.HTTPError as error:
        sys.stderr.write("HTTP %d: %s\n" % (error.code, error.read().decode("utf-8", "replace")))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
