/**
 * decryptChoices / decryptChatCompletion where test/protocol/response.test.ts does not look
 * closely enough (mutation testing, issue 16): the full text of each refusal and the choice it
 * names (as `choiceIndex` too, for a non-streamed answer), and choices that are not objects,
 * passed on as they came beside ones that are decrypted.
 */
import { describe, expect, it } from 'vitest';
import { DecryptionFailedError, EventStreamError } from '../../src/errors.js';
import { decryptEventStream } from '../../src/protocol/event-stream.js';
import { decryptChatCompletion, decryptChoices } from '../../src/protocol/response.js';
import { sessionFromKey } from '../../src/protocol/create-session.js';
import { serverEncrypt } from '../helpers/server-crypto.js';
import { sourceOf } from '../helpers/streams.js';

const KEY = new Uint8Array(32).map((_, i) => 17 * i + 5);
const NONCE = new Uint8Array(12).map((_, i) => 40 + 3 * i);
const SESSION = sessionFromKey(KEY, NONCE, { backend: 'node' });
const enc = (text: string): string => serverEncrypt(KEY, NONCE, text);

/** What `run` threw. */
function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('nothing was thrown');
}

describe('refusals of a non-streamed answer', () => {
  // The refused choice is not the first, and its index is not its position.
  const answer = (message: Record<string, unknown>): unknown => ({
    choices: [
      { index: 0, finish_reason: 'stop', message: { content: enc('fine') } },
      { index: 7, finish_reason: 'stop', message },
    ],
  });

  it.each([
    ['a number', 42, 'number'],
    ['an array', [{ type: 'text', text: 'INJECTED' }], 'array'],
  ])('a content that is %s names its type and the choice, by message and by choiceIndex', (_name, content, type) => {
    const error = thrown(() => decryptChatCompletion(answer({ content }), SESSION));
    expect(error).toBeInstanceOf(DecryptionFailedError);
    expect((error as DecryptionFailedError).code).toBe('ERR_ARK_E2EE_DECRYPTION_FAILED');
    expect((error as Error).message).toBe(
      `the content of choice 7 is a JSON ${type} where the protocol allows only an encrypted string: it was not ` +
        'sent by the service, and is not trusted',
    );
    expect((error as DecryptionFailedError).choiceIndex).toBe(7);
    expect((error as DecryptionFailedError).offset).toBeUndefined();
  });

  it('a text field the protocol does not encrypt names itself and the choice, by message and by choiceIndex', () => {
    const error = thrown(() => decryptChatCompletion(answer({ content: enc('fine'), refusal: 'INJECTED' }), SESSION));
    expect(error).toBeInstanceOf(DecryptionFailedError);
    expect((error as Error).message).toBe(
      'choice 7 carries a "refusal", a text the protocol does not encrypt, in an answer to an encrypted request: ' +
        'it cannot be authenticated, so the answer is not trusted',
    );
    expect((error as DecryptionFailedError).choiceIndex).toBe(7);
  });

  it('a choice without an index is named by its position', () => {
    const error = thrown(() => decryptChatCompletion({ choices: [{ message: {} }, { message: { reasoning: 'INJECTED' } }] }, SESSION));
    expect((error as Error).message).toMatch(/^choice 1 carries a "reasoning", /);
    expect((error as DecryptionFailedError).choiceIndex).toBe(1);
  });
});

describe('content after a choice\'s plain content_filter text (streamed answers)', () => {
  it('is refused with an EventStreamError that says what was slipped in', () => {
    const error = thrown(() =>
      decryptChoices({ choices: [{ index: 3, delta: { content: enc('more') } }] }, SESSION, 'delta', { filtered: new Set([3]) }),
    );
    expect(error).toBeInstanceOf(EventStreamError);
    expect((error as EventStreamError).code).toBe('ERR_ARK_E2EE_STREAM');
    expect((error as Error).message).toBe(
      'choice 3 has content after its plain content_filter text, which must be its last content (protocol §5): ' +
        'text was slipped into the answer, so nothing after this point is trusted',
    );
  });
});

describe('choices that carry nothing to decrypt', () => {
  const NOT_OBJECTS = [null, 3, 'text', [{ message: { content: 'x' } }], true];

  it('choices that are not objects are passed on, the very same, beside one that is decrypted', () => {
    const body = { id: 'c', choices: [...NOT_OBJECTS, { index: 5, message: { content: enc('decrypted') } }] };
    const output = decryptChatCompletion(body, SESSION);
    expect(output.choices.slice(0, NOT_OBJECTS.length)).toEqual(NOT_OBJECTS);
    output.choices.slice(0, NOT_OBJECTS.length).forEach((choice, i) => expect(choice).toBe(body.choices[i]));
    expect(output.choices.at(-1)).toEqual({ index: 5, message: { content: 'decrypted' } });
  });

  it.each([
    ['no choices', { id: 'c' }],
    ['an empty list', { id: 'c', choices: [] }],
    ['a list of non-objects only', { id: 'c', choices: NOT_OBJECTS }],
  ])('%s: decryptChoices gives back the same object', (_name, body) => {
    expect(decryptChoices(body, SESSION, 'delta')).toBe(body);
  });

  it('in a stream, a chunk whose choices are not objects is passed on byte for byte', async () => {
    const data = '{"choices": [null, 3, "text"], "id": "c"}';
    const reader = decryptEventStream(sourceOf(new TextEncoder().encode(`data: ${data}\n\ndata: [DONE]\n\n`)), SESSION).getReader();
    let text = '';
    for (let r = await reader.read(); !r.done; r = await reader.read()) text += Buffer.from(r.value).toString();
    expect(text).toBe(`data: ${data}\n\ndata: [DONE]\n\n`);
  });
});
