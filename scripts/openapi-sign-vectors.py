#!/usr/bin/env python3
"""Fill in (--write) or check (--check) the expected values of vectors/openapi/signatures.json with
the official Volcengine Python SDK's signer (volcenginesdkcore/signv4.py), run on its own with
the clock fixed to each case's date.

    python3 scripts/openapi-sign-vectors.py --signer PATH/TO/volcenginesdkcore/signv4.py --check

The signer needs only the standard library and `six`; its logger is replaced by one that keeps
what it logs (the canonical request and the string to sign), so those come from the SDK too.
Nothing of the SDK is kept in this repository: give the path of a copy you have.
"""
import argparse
import datetime as real_datetime
import importlib.util
import json
import sys
import types
from urllib.parse import urlsplit

VECTORS = 'vectors/openapi/signatures.json'


class KeepingLogger:
    def __init__(self):
        self.lines = []

    def debug_sign(self, message, *args, **kwargs):
        self.lines.append((message, args))


def load_signer(path, logger):
    package = types.ModuleType('volcenginesdkcore')
    package.__path__ = []
    observability = types.ModuleType('volcenginesdkcore.observability')
    observability.__path__ = []
    debugger = types.ModuleType('volcenginesdkcore.observability.debugger')
    debugger.sdk_core_logger = logger
    sys.modules.update({
        'volcenginesdkcore': package,
        'volcenginesdkcore.observability': observability,
        'volcenginesdkcore.observability.debugger': debugger,
    })
    spec = importlib.util.spec_from_file_location('volcenginesdkcore.signv4', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fixed_clock(timestamp):
    moment = real_datetime.datetime.strptime(timestamp, '%Y%m%dT%H%M%SZ')

    class FixedDatetime(real_datetime.datetime):
        @classmethod
        def utcnow(cls):
            return moment

    return types.SimpleNamespace(datetime=FixedDatetime)


def logged(logger, prefix):
    for message, args in logger.lines:
        if message.startswith(prefix):
            return args[0]
    raise KeyError(prefix)


def expected_of(module, logger, case):
    logger.lines.clear()
    module.datetime = fixed_clock(case['date'])
    parts = urlsplit(case['url'])
    headers = dict(case['headers'])
    headers['Host'] = parts.netloc
    module.SignerV4.sign(
        parts.path or '/', case['method'], headers, case['body'], None, dict(case['query']),
        case['accessKeyId'], case['secretAccessKey'], case['region'], case['service'],
        case.get('sessionToken'),
    )
    return {
        'xDate': headers['X-Date'],
        'xContentSha256': headers['X-Content-Sha256'],
        'canonicalRequest': logged(logger, 'canonical_request'),
        'stringToSign': logged(logger, 'string_to_sign'),
        'authorization': headers['Authorization'],
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--signer', required=True, help='path of volcenginesdkcore/signv4.py')
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument('--write', action='store_true')
    mode.add_argument('--check', action='store_true')
    options = parser.parse_args()

    logger = KeepingLogger()
    module = load_signer(options.signer, logger)
    with open(VECTORS, encoding='utf-8') as f:
        document = json.load(f)
    failed = 0
    for case in document['cases']:
        expected = expected_of(module, logger, case)
        if options.write:
            case['expected'] = expected
        elif case.get('expected') != expected:
            failed += 1
            print('MISMATCH', case['name'], json.dumps(expected, ensure_ascii=False, indent=1))
    if options.write:
        with open(VECTORS, 'w', encoding='utf-8') as f:
            json.dump(document, f, ensure_ascii=False, indent=2)
            f.write('\n')
    print(f"{len(document['cases']) - failed} of {len(document['cases'])} cases agree with the SDK's signer")
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
