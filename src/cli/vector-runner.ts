/**
 * Runs test-vector files (vectors/FORMAT.md) through the public API, on a given backend.
 * Shared by `ark-e2ee vectors` and the test suite.
 */
import { isDeepStrictEqual } from 'node:util';
import { createParser } from 'eventsource-parser';
import {
  DecryptionFailedError,
  EventStreamError,
  InvalidCertificateError,
  UnsupportedContentError,
  createSession,
  decryptChatCompletion,
  decryptEventStream,
  encryptChatRequest,
  parseCertificate,
  sessionFromKey,
  type BackendName,
} from '../index.js';

export interface VectorCase {
  name: string;
  kind: string;
  [member: string]: unknown;
}

export interface VectorFile {
  description?: string;
  cases: VectorCase[];
}

const ERROR_CLASSES: Record<string, new (...args: never[]) => Error> = {
  invalid_certificate: InvalidCertificateError,
  unsupported_content: UnsupportedContentError,
  decryption_failed: DecryptionFailedError,
  stream_error: EventStreamError,
};

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const bytes = (value: unknown): Uint8Array => new Uint8Array(Buffer.from(String(value), 'hex'));

function expectEqual(actual: unknown, expected: unknown, what: string): void {
  if (!isDeepStrictEqual(actual, expected)) {
    const show = (v: unknown): string => {
      const text = JSON.stringify(v) ?? String(v);
      return text.length > 160 ? `${text.slice(0, 160)}…` : text;
    };
    throw new Error(`${what}: expected ${show(expected)}, got ${show(actual)}`);
  }
}

async function readStream(stream: ReadableStream<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  let text = '';
  const reader = stream.getReader();
  for (let next = await reader.read(); !next.done; next = await reader.read()) {
    text += decoder.decode(next.value, { stream: true });
  }
  return text + decoder.decode();
}

/** The data of each event of an SSE text: parsed JSON, or the string `[DONE]`. */
export function eventsOf(sse: string): unknown[] {
  const events: unknown[] = [];
  const parser = createParser({
    onEvent: (event) => events.push(event.data === '[DONE]' ? event.data : JSON.parse(event.data)),
  });
  parser.feed(sse);
  return events;
}

function streamOf(text: string): ReadableStream<Uint8Array> {
  const data = new TextEncoder().encode(text);
  return new ReadableStream({
    start(controller) {
      // Small uneven pieces, so that events and characters are cut across chunks.
      for (let at = 0, size = 1; at < data.length; at += size, size = (size % 97) + 13) {
        controller.enqueue(data.subarray(at, at + size));
      }
      controller.close();
    },
  });
}

/** What one case does; resolves with its result or rejects with the error it ends in. */
async function execute(testCase: VectorCase, backend: BackendName): Promise<unknown> {
  const session = (): ReturnType<typeof sessionFromKey> =>
    sessionFromKey(bytes(testCase.key), bytes(testCase.nonce), { backend });
  switch (testCase.kind) {
    case 'certificate': {
      const cert = parseCertificate(String(testCase.certificate));
      return {
        public_key: hex(cert.publicKey),
        ring_id: cert.ringId,
        key_id: cert.keyId,
        not_after: cert.notAfter.getTime() / 1000,
      };
    }
    case 'handshake': {
      const s = createSession(parseCertificate(String(testCase.certificate)), {
        aicc: testCase.aicc === true,
        unsafeFixedEphemeralKeyForTests: bytes(testCase.ephemeral_private_key),
        backend,
      });
      return { session_token: s.token, key: hex(s.key), nonce: hex(s.nonce), encrypt_info: s.encryptInfo };
    }
    case 'encrypt_text': {
      const s = session();
      const ciphertext = s.encryptText(String(testCase.plaintext));
      expectEqual(s.decryptText(ciphertext), testCase.plaintext, 'decrypting it back');
      return ciphertext;
    }
    case 'encrypt_request':
      return encryptChatRequest(testCase.request, session(), { onWarning: () => {} });
    case 'decrypt_response':
      return decryptChatCompletion(testCase.response, session());
    case 'decrypt_stream':
      return eventsOf(await readStream(decryptEventStream(streamOf(String(testCase.sse)), session())));
    default:
      throw new Error(`unknown case kind "${testCase.kind}"`);
  }
}

const EXPECTED_MEMBER: Record<string, string> = {
  certificate: 'expect',
  handshake: 'expect',
  encrypt_text: 'expect_ciphertext',
  encrypt_request: 'expect_request',
  decrypt_response: 'expect_response',
  decrypt_stream: 'expect_events',
};

/** Runs one case; `undefined` when it passed, else what went wrong. */
export async function runCase(testCase: VectorCase, backend: BackendName): Promise<string | undefined> {
  const expectedError = testCase.expect_error;
  try {
    const result = await execute(testCase, backend);
    if (typeof expectedError === 'string') return `expected error ${expectedError}, got a result`;
    expectEqual(result, testCase[EXPECTED_MEMBER[testCase.kind] ?? 'expect'], 'result');
    return undefined;
  } catch (error) {
    if (typeof expectedError !== 'string') return (error as Error).message;
    const errorClass = ERROR_CLASSES[expectedError];
    if (errorClass === undefined) return `unknown error name "${expectedError}"`;
    if (error instanceof errorClass) return undefined;
    return `expected ${expectedError}, got ${(error as Error).name}: ${(error as Error).message}`;
  }
}

export interface VectorFailure {
  file: string;
  name: string;
  backend: BackendName;
  problem: string;
}

/** Every case of every file on every backend; the failures and the number of runs. */
export async function runVectorFiles(
  files: { path: string; content: VectorFile }[],
  backends: readonly BackendName[] = ['node', 'noble'],
): Promise<{ runs: number; failures: VectorFailure[] }> {
  const failures: VectorFailure[] = [];
  let runs = 0;
  for (const { path, content } of files) {
    for (const testCase of content.cases) {
      for (const backend of backends) {
        runs++;
        const problem = await runCase(testCase, backend);
        if (problem !== undefined) failures.push({ file: path, name: testCase.name, backend, problem });
      }
    }
  }
  return { runs, failures };
}
