/**
 * Issue 7, faults in the answer, through createEncryptedFetch against the mock server's `fault-*`
 * models, streamed and not: a stream cut inside an event, a connection reset halfway, plain text
 * where ciphertext was due, a ciphertext from another session, each ending in an error with no
 * unauthenticated text delivered; and whole ciphertexts replayed out of order, which the protocol
 * cannot detect (docs/protocol.md §7, docs/security.md): they decrypt to a different answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecryptionFailedError, EventStreamError, createEncryptedFetch } from '../../src/index.js';
import { MOCK_MODELS, mockAnswerText, startMockArkServer, type MockArkServer } from '../../src/testing/index.js';
import { replayedOrder } from '../../src/testing/faults.js';
import { mockPieces } from '../../src/testing/scenarios.js';
import { chunkText } from '../../src/testing/scenarios.js';
import { API_KEY, SECRET, chatRequestsOf, deltaContents, encryptedChat, readOutcome } from './helpers.js';

let server: MockArkServer;
let fetchFn: typeof fetch;
const ANSWER = mockAnswerText([{ role: 'user', content: SECRET }]);
/** The answer's streamed chunks, as the mock cuts them (3 characters). */
const CHUNKS = [...chunkText(ANSWER, 3)];

beforeAll(async () => {
  server = await startMockArkServer({ apiKey: API_KEY });
  fetchFn = createEncryptedFetch({ errors: 'throw', cacheDir: false });
});
afterAll(() => server.close());

/** The last chat request went out encrypted: no plaintext of the question on the wire. */
function expectSentEncrypted(): void {
  const sent = chatRequestsOf(server).at(-1)!;
  expect(sent.headers['x-session-token']).toMatch(/^[A-Za-z0-9+/]{86}==$|^[A-Za-z0-9+/]{87}=$/);
  expect(sent.body).not.toContain('secret');
  expect(sent.body).not.toContain('秘密');
  expect(sent.decryptedMessages).toEqual([{ role: 'user', content: SECRET }]);
}

/** Delivered contents are the answer's first chunks, in order, and nothing else. */
function expectAuthenticPrefix(sse: string): string[] {
  const contents = deltaContents(sse);
  expect(contents).toEqual(CHUNKS.slice(0, contents.length));
  return contents;
}

async function streamed(model: string) {
  const response = await encryptedChat(fetchFn, server.url, { model, stream: true });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/event-stream');
  return readOutcome(response.body!);
}

describe('a stream cut inside an event', () => {
  it('streamed: the complete events come out, then an EventStreamError', async () => {
    const { text, error } = await streamed(MOCK_MODELS.faultCutStream);
    expect(error).toBeInstanceOf(EventStreamError);
    expect((error as EventStreamError).code).toBe('ERR_ARK_E2EE_STREAM');
    expect(expectAuthenticPrefix(text).length).toBeGreaterThan(0);
    expect(text).not.toContain('[DONE]');
    expectSentEncrypted();
  });

  it('non-streamed: a JSON body cut short is a DecryptionFailedError', async () => {
    const error = await encryptedChat(fetchFn, server.url, { model: MOCK_MODELS.faultCutStream }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DecryptionFailedError);
    expect((error as Error).message).toMatch(/not JSON/);
    expectSentEncrypted();
  });
});

describe('a connection reset mid-answer', () => {
  it('streamed: the stream fails with EventStreamError (cause: fetch\'s network error) after authentic chunks only', async () => {
    const { text, error } = await streamed(MOCK_MODELS.faultReset);
    expect(error).toBeInstanceOf(EventStreamError);
    expect((error as EventStreamError).code).toBe('ERR_ARK_E2EE_STREAM');
    // fetch reports the network failure as a TypeError (undici: "terminated", cause ECONNRESET).
    expect((error as Error).cause).toBeInstanceOf(TypeError);
    // Not a clean end: what came out is an authentic prefix and never the whole answer.
    const contents = expectAuthenticPrefix(text);
    expect(contents.length).toBeLessThan(CHUNKS.length);
    expect(text).not.toContain('[DONE]');
    expectSentEncrypted();
  });

  it('non-streamed: the call rejects with fetch\'s own network error; no partial answer is returned', async () => {
    const error = await encryptedChat(fetchFn, server.url, { model: MOCK_MODELS.faultReset }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TypeError);
    expectSentEncrypted();
  });
});

describe.each([
  ['plain text where ciphertext was due', MOCK_MODELS.faultPlain],
  ['a ciphertext from another session', MOCK_MODELS.faultOtherSession],
])('%s', (_name, model) => {
  it('streamed: a DecryptionFailedError before any content comes out', async () => {
    const { text, error } = await streamed(model);
    expect(error).toBeInstanceOf(DecryptionFailedError);
    expect((error as DecryptionFailedError).code).toBe('ERR_ARK_E2EE_DECRYPTION_FAILED');
    expect((error as DecryptionFailedError).choiceIndex).toBe(0);
    expect(deltaContents(text)).toEqual([]);
    expectSentEncrypted();
  });

  it('non-streamed: a DecryptionFailedError naming the choice', async () => {
    const error = await encryptedChat(fetchFn, server.url, { model }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DecryptionFailedError);
    expect((error as DecryptionFailedError).choiceIndex).toBe(0);
    expect((error as DecryptionFailedError).offset).toBe(0);
    expect((error as Error).message).not.toContain(ANSWER);
    expectSentEncrypted();
  });
});

describe('whole ciphertexts replayed out of order: undetectable by the protocol (§7)', () => {
  it('streamed: chunks swapped and repeated decrypt without error, to a different answer', async () => {
    const { text, error } = await streamed(MOCK_MODELS.faultReplay);
    expect(error).toBeUndefined();
    const delivered = deltaContents(text).join('');
    expect(delivered).toBe(replayedOrder(CHUNKS).join(''));
    expect(delivered).not.toBe(ANSWER);
    expect(text).toContain('[DONE]');
  });

  it('non-streamed: pieces swapped and repeated inside one content decrypt to a different answer', async () => {
    const response = await encryptedChat(fetchFn, server.url, { model: MOCK_MODELS.faultReplay });
    const content = ((await response.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content;
    expect(content).toBe(replayedOrder(mockPieces(ANSWER)).join(''));
    expect(content).not.toBe(ANSWER);
  });
});
