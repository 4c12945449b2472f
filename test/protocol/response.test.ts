/**
 * decryptChatCompletion (protocol §5): which parts of a non-streamed answer are decrypted, which
 * are left as they are, and that the input is never mutated.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BackendName } from '../../src/crypto/backend.js';
import { DecryptionFailedError } from '../../src/errors.js';
import { decryptChatCompletion } from '../../src/protocol/response.js';
import { sessionFromKey } from '../../src/protocol/session.js';
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
/** Reasoning that is not a ciphertext of this session: left as it is. */
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
  .tuple(encrypted, fc.option(fc.oneof(encrypted.map((r) => ({ r, plain: false })), plainReasoning.map((p) => ({ p, plain: true })))))
  .map(([content, reasoning]): Case => {
    const message: Json = { role: 'assistant', content: content.wire };
    const expected: Json = { role: 'assistant', content: content.plain };
    if (reasoning !== null) {
      message.reasoning_content = 'r' in reasoning ? reasoning.r.wire : reasoning.p;
      expected.reasoning_content = 'r' in reasoning ? reasoning.r.plain : reasoning.p;
    }
    return { choice: { finish_reason: 'stop', logprobs: null, message }, expected: { finish_reason: 'stop', logprobs: null, message: expected }, same: false };
  });
const filteredChoice = fc.oneof(text, encrypted.map((e) => e.wire)).map((content): Case => {
  const choice = { finish_reason: 'content_filter', message: { role: 'assistant', content, reasoning_content: enc('x') } };
  return { choice, expected: choice, same: true };
});
const emptyChoice = fc
  .tuple(fc.constantFrom<Json>({ content: null }, { content: '' }, {}, { content: [] }), fc.option(encrypted))
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

  it('decrypts contents and authentic reasoning, leaves the rest, and never mutates its input', () => {
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
