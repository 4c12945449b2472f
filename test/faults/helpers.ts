/**
 * Shared pieces of the fault tests: one encrypted chat call (streamed or not), reading an answer
 * stream to its end or its error, the contents it delivered, and the server-side sockets of the
 * requests a mock server got (to see that an abort released them).
 */
import type { Socket } from 'node:net';
import { createParser } from 'eventsource-parser';
import type { MockArkServer } from '../../src/testing/index.js';

export const API_KEY = 'fault-test-key';
/** A text only the caller knows: it must never be seen on the wire. */
export const SECRET = '我的秘密问题 the secret question';

export interface ChatOptions {
  model?: string;
  text?: string;
  stream?: boolean;
  signal?: AbortSignal;
}

/** One encrypted chat completion through `fetchFn`. */
export function encryptedChat(fetchFn: typeof fetch, baseUrl: string, options: ChatOptions = {}): Promise<Response> {
  const { model = 'mock-model', text = SECRET, stream = false, signal } = options;
  return fetchFn(`${baseUrl}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'x-is-encrypted': 'true', 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: text }], stream }),
    signal,
  });
}

/** What a body delivered before it ended or failed, and how it failed. */
export interface Outcome {
  text: string;
  error: unknown;
}

export async function readOutcome(body: ReadableStream<Uint8Array>): Promise<Outcome> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  try {
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      text += decoder.decode(read.value, { stream: true });
    }
  } catch (error) {
    return { text, error };
  }
  return { text: text + decoder.decode(), error: undefined };
}

/** The `delta.content` texts of a (decrypted) event stream, in order, `[DONE]` left out. */
export function deltaContents(sse: string): string[] {
  const contents: string[] = [];
  const parser = createParser({
    onEvent: ({ data }) => {
      if (data === '[DONE]') return;
      const chunk = JSON.parse(data) as { choices?: { delta?: { content?: unknown } }[] };
      const content = chunk.choices?.[0]?.delta?.content;
      if (typeof content === 'string' && content !== '') contents.push(content);
    },
  });
  parser.feed(sse);
  return contents;
}

/** The server-side socket of every request the server gets from now on, by path. */
export function trackSockets(server: MockArkServer): { socketOf: (pathEnd: string) => Socket | undefined } {
  const seen: { path: string; socket: Socket }[] = [];
  server.server.on('request', (request) => seen.push({ path: request.url ?? '', socket: request.socket }));
  return { socketOf: (pathEnd) => seen.filter((entry) => entry.path.endsWith(pathEnd)).at(-1)?.socket };
}

/** Every request body and header value the server got, as one text (to look for plaintext). */
export function everythingSent(server: MockArkServer, from = 0): string {
  return server.requests
    .slice(from)
    .map((request) => `${request.path}\n${JSON.stringify(request.headers)}\n${request.body}`)
    .join('\n');
}

export const chatRequestsOf = (server: MockArkServer) =>
  server.requests.filter((request) => request.path.endsWith('/chat/completions'));
