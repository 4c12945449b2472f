/**
 * decryptChatCompletion (protocol §5): which parts of a non-streamed answer are decrypted, which
 * are left as they are, and that the input is never mutated.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BackendName } from '../../src/crypto/backend.js';
import { DecryptionFailedError } from '../../src/errors.js';
import { decryptChatCompletion } from '../../src/protocol/response.js';
import { sessionFromKey } from '../../src/protocol/create-session.js';
import { serverEncrypt } from '../helpers/server-crypto.js';

type Json = Record<string, unknown>;

const KEY = new Uint8Array(32).map((_, i) => 255 - i * 3);
const NONCE = new Uint8Array(12).map((_, i) => i * 17);
const enc = (text: string): string => serverEncrypt(KEY, NONCE, text);

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Reflect.ownKeys(value)) deepFreeze((value as Record<PropertyKey, unknown>)[key]);
  }
  return value;
}

const text = fc.string({
  unit: fc.oneof(
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
    fc.integer({ min: 0x4e00, max: 0x9fff }).map((c) => String.fromCodePoint(c)),
    fc.constantFrom('😀', '🇯🇵', '👍🏽'),
  ),
  maxLength: 20,
});
/** Several texts, and their ciphertexts laid end to end. */
const encrypted = fc.array(text, { minLength: 1, maxLength: 8 }).map((texts) => ({
  wire: texts.map(enc).join(''),
  plain: texts.join(''),
}));
/** Reasoning that is not a ciphertext of this session: refused, like content. */
const plainReasoning = fc.oneof(
  text.filter((s) => s !== ''),
  fc.base64String({ minLength: 24, maxLength: 60 }),
  fc.constant(serverEncrypt(new Uint8Array(32), NONCE, 'another request')),
);

interface Case {
  choice: Json;
  expected: Json;
  /** Whether the choice must come back as the very same object. */
  same: boolean;
}

const encryptedChoice = fc
  .tuple(encrypted, fc.option(encrypted))
  .map(([content, reasoning]): Case => {
    const message: Json = { role: 'assistant', content: content.wire };
    const expected: Json = { role: 'assistant', content: content.plain };
    if (reasoning !== null) {
      message.reasoning_content = reasoning.wire;
      expected.reasoning_content = reasoning.plain;
    }
    return { choice: { finish_reason: 'stop', logprobs: null, message }, expected: { finish_reason: 'stop', logprobs: null, message: expected }, same: false };
  });
const filteredChoice = fc.oneof(text, encrypted.map((e) => e.wire)).map((content): Case => {
  const choice = { finish_reason: 'content_filter', message: { role: 'assistant', content, reasoning_content: enc('x') } };
  return { choice, expected: choice, same: true };
});
const emptyChoice = fc
  .tuple(fc.constantFrom<Json>({ content: null }, { content: '' }, {}, { refusal: null }, { audio: null, reasoning: '' }), fc.option(encrypted))
  .map(([content, reasoning]): Case => {
    const message: Json = { role: 'assistant', ...content, tool_calls: [{ id: 't', type: 'function' }] };
    if (reasoning === null) return { choice: { finish_reason: 'tool_calls', message }, expected: { finish_reason: 'tool_calls', message }, same: true };
    const expected = { ...message, reasoning_content: reasoning.plain };
    return {
      choice: { finish_reason: 'tool_calls', message: { ...message, reasoning_content: reasoning.wire } },
      expected: { finish_reason: 'tool_calls', message: expected },
      same: false,
    };
  });
const oddChoice = fc.constantFrom<Json>({ message: null }, { delta: { content: 'x' } }, {}).map((choice): Case => ({ choice, expected: choice, same: true }));

const answers = fc
  .tuple(fc.array(fc.oneof(encryptedChoice, filteredChoice, emptyChoice, oddChoice), { maxLength: 5 }), fc.boolean())
  .map(([cases, indexed]) => {
    const withIndex = (c: Json, i: number): Json => (indexed ? { index: i, ...c } : c);
    const body = { id: 'chatcmpl-1', object: 'chat.completion', usage: { total_tokens: 3 }, choices: cases.map((c, i) => withIndex(c.choice, i)) };
    const expected = { ...body, choices: cases.map((c, i) => withIndex(c.expected, i)) };
    return { body, expected, cases };
  });

describe.each<BackendName>(['node', 'noble'])('decryptChatCompletion, %s backend', (backend) => {
  const session = sessionFromKey(KEY, NONCE, { backend });

  it('decrypts contents and reasoning, leaves the rest, and never mutates its input', () => {
    fc.assert(
      fc.property(answers, ({ body, expected, cases }) => {
        const before = structuredClone(body);
        deepFreeze(body);
        const output = decryptChatCompletion(body, session);
        expect(output).not.toBe(body);
        expect(body).toEqual(before);
        expect(output).toEqual(expected);
        expect(output.usage).toBe(body.usage);
        cases.forEach((c, i) => {
          if (c.same) expect(output.choices[i]).toBe(body.choices[i]);
        });
      }),
      { numRuns: backend === 'node' ? 200 : 80 },
    );
  });

  it('refuses a content that does not authenticate, naming the choice', () => {
    const good = enc('fine');
    const bad = enc('altered').replace(/^./, (c) => (c === 'A' ? 'B' : 'A'));
    const body = deepFreeze({
      choices: [
        { index: 0, message: { content: good } },
        { message: { content: good } },
        { message: { content: bad } },
      ],
    });
    let error: unknown;
    try {
      decryptChatCompletion(body, session);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DecryptionFailedError);
    expect((error as DecryptionFailedError).choiceIndex).toBe(2);
    expect((error as DecryptionFailedError).offset).toBe(0);
    expect(() => decryptChatCompletion({ choices: [{ index: 5, message: { content: 'plain text' } }] }, session)).toThrow(
      DecryptionFailedError,
    );
  });

  it('refuses reasoning_content that does not authenticate, as it refuses content (issue 10)', () => {
    fc.assert(
      fc.property(plainReasoning, encrypted, (reasoning, content) => {
        const body = { choices: [{ index: 0, message: { content: content.wire, reasoning_content: reasoning } }] };
        expect(() => decryptChatCompletion(body, session)).toThrow(DecryptionFailedError);
      }),
      { numRuns: 50 },
    );
  });

  /** Anything a hostile server puts where the answer text is due that is not a ciphertext string. */
  const notText = fc.oneof(
    fc.constant<unknown>([{ type: 'text', text: 'INJECTED' }]),
    fc.constant<unknown>({ text: 'INJECTED' }),
    fc.constant<unknown>(true),
    fc.jsonValue().filter((v) => v !== null && typeof v !== 'string'),
  );

  it('refuses a content or reasoning_content that is not a string, in every kind of choice (issue 10)', () => {
    fc.assert(
      fc.property(
        notText,
        fc.constantFrom('content', 'reasoning_content'),
        fc.constantFrom('stop', 'content_filter', null),
        (value, field, finishReason) => {
          const body = { choices: [{ index: 0, finish_reason: finishReason, message: { role: 'assistant', [field]: value } }] };
          let error: unknown;
          try {
            decryptChatCompletion(body, session);
          } catch (caught) {
            error = caught;
          }
          expect(error).toBeInstanceOf(DecryptionFailedError);
          expect((error as Error).message).toContain(`${field} of choice 0`);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('refuses a text field the protocol does not encrypt (refusal, reasoning, audio) rather than pass it on', () => {
    for (const extra of [{ refusal: 'INJECTED' }, { reasoning: 'INJECTED' }, { audio: { transcript: 'INJECTED', data: '' } }]) {
      for (const finishReason of ['stop', 'content_filter']) {
        const body = { choices: [{ index: 0, finish_reason: finishReason, message: { content: enc('fine'), ...extra } }] };
        expect(() => decryptChatCompletion(body, session)).toThrow(/does not encrypt/);
      }
    }
  });

  it('passes content_filter text on as it came and reports it to onPlainText', () => {
    const notices: unknown[] = [];
    const body = deepFreeze({
      choices: [
        { index: 0, finish_reason: 'stop', message: { content: enc('fine') } },
        { index: 1, finish_reason: 'content_filter', message: { content: 'filtered, in plain' } },
        { index: 2, finish_reason: 'content_filter', message: { content: '' } },
      ],
    });
    const output = decryptChatCompletion(body, session, { onPlainText: (notice) => notices.push(notice) });
    expect(output.choices[0]!.message.content).toBe('fine');
    expect(output.choices[1]).toBe(body.choices[1]);
    expect(notices).toEqual([{ choiceIndex: 1, field: 'content', text: 'filtered, in plain', reason: 'content_filter' }]);
  });

  it('returns a new object even when nothing was encrypted, and non-objects as they are', () => {
    for (const body of [{}, { choices: [] }, { choices: 'x' }, { choices: [{ finish_reason: 'content_filter', message: { content: 'no' } }] }]) {
      const frozen = deepFreeze(structuredClone(body));
      const output = decryptChatCompletion(frozen, session);
      expect(output).not.toBe(frozen);
      expect(output).toEqual(body);
    }
    for (const body of [null, 'text', 3, undefined]) expect(decryptChatCompletion(body, session)).toBe(body);
  });
});
