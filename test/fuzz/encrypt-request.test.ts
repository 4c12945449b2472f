/**
 * Fuzz (issue 7): arbitrary JSON into encryptChatRequest. Either a typed refusal, exactly when
 * protocol §4 says so, or a body in which every text the protocol encrypts is a ciphertext of
 * that very text under the session (checked by an independent node:crypto decryption) and every
 * other value is as it was: never a plain text left in an encrypted place. The input is never
 * mutated. The verdict and the check are written here from the protocol's table, not from src/.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UnsupportedContentError, encryptChatRequest, sessionFromKey } from '../../src/index.js';
import { serverDecrypt } from '../helpers/server-crypto.js';
import { fuzzParameters, fuzzTimeout } from './settings.js';

const KEY = new Uint8Array(32).map((_, i) => (i * 7 + 3) & 0xff);
const NONCE = new Uint8Array(12).map((_, i) => 90 + i);
const SESSION = sessionFromKey(KEY, NONCE);

type Json = unknown;
const isObject = (value: Json): value is Record<string, Json> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const wellFormed = (text: string): boolean => text.isWellFormed();
const schemeOf = (url: string): string | undefined => /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();

// ---- generators ------------------------------------------------------------------------------

/** Texts: any code units (lone surrogates too), graphemes, and ones the protocol treats apart. */
const text = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.string({ unit: fc.constantFrom('a', '中', '😀', '\ud800', '\udc00', '=', '"', '\\', '\n'), maxLength: 10 }),
  fc.constantFrom('', 'data:image/png;base64,iVBORw0KGgo=', 'DATA:,x', 'https://example.com/a.png', 'HTTP://x', 'ftp://x', 'file:///etc/passwd', 'javascript:alert(1)', 'no scheme'),
);
const url = fc.oneof(
  text,
  text.map((t) => `data:image/jpeg;base64,${t}`),
  text.map((t) => `https://example.com/${t}`),
  text.map((t) => `${t}:${t}`),
);
const anyJson = fc.jsonValue({ maxDepth: 3 });
const part = fc.oneof(
  { weight: 4, arbitrary: fc.record({ type: fc.constant('text'), text: fc.oneof({ weight: 5, arbitrary: text }, anyJson) }) },
  { weight: 3, arbitrary: fc.record({
    type: fc.constant('image_url'),
    image_url: fc.oneof(
      { weight: 5, arbitrary: fc.record({ url: fc.oneof({ weight: 5, arbitrary: url }, anyJson), detail: fc.constantFrom('low', 'high', 'auto') }, { requiredKeys: ['url'] }) },
      anyJson,
    ),
  }, { requiredKeys: ['type'] }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('video_url'), video_url: fc.oneof(fc.record({ url }), anyJson), text }, { requiredKeys: ['type', 'video_url'] }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('image_url'), image_url: fc.record({ URL: url, url }, { requiredKeys: ['URL'] }) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.oneof(fc.string(), anyJson), text }) },
  { weight: 1, arbitrary: anyJson },
);
const content = fc.oneof(
  { weight: 6, arbitrary: text },
  { weight: 4, arbitrary: fc.array(part, { maxLength: 5 }) },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: anyJson },
);
const message = fc.oneof(
  { weight: 9, arbitrary: fc.record(
    {
      role: fc.constantFrom('system', 'user', 'assistant', 'tool'),
      content,
      name: fc.string(),
      tool_call_id: fc.string(),
      tool_calls: anyJson,
      // Sent back from a decrypted answer: never leaves in plain text (dropped, §4).
      reasoning_content: fc.oneof(text, fc.constant(null), anyJson),
      // Named like content in another case: a case-blind server reads it as content.
      Content: text,
    },
    { requiredKeys: ['role'] },
  ) },
  { weight: 1, arbitrary: anyJson },
);
const request = fc.oneof(
  { weight: 8, arbitrary: fc.record(
    {
      model: fc.string(),
      messages: fc.array(message, { maxLength: 6 }),
      stream: fc.boolean(),
      temperature: fc.double({ noNaN: true, noDefaultInfinity: true }),
      tools: anyJson,
      extra: anyJson,
    },
    { requiredKeys: ['messages'] },
  ) },
  // Anything at all: not an object, no messages, messages not an array…
  { weight: 1, arbitrary: anyJson },
  { weight: 1, arbitrary: fc.record({ model: fc.string(), messages: anyJson }) },
);

// ---- the protocol's table (docs/protocol.md §4), independently -------------------------------

/** A member named like one of `names` in another letter case (a long s counts as s). */
const lookalike = (object: Record<string, Json>, names: string[]): boolean =>
  Object.keys(object).some((key) => !names.includes(key) && names.includes(key.replace(/\u017f/g, 's').toLowerCase()));

/** Whether §4 refuses this request (the library must then throw and give nothing). */
function refused(body: Json): boolean {
  if (!isObject(body) || !Array.isArray(body.messages)) return true;
  if (lookalike(body, ['messages'])) return true;
  return body.messages.some((m: Json) => {
    if (!isObject(m)) return true;
    if (lookalike(m, ['content', 'reasoning_content'])) return true;
    const c = m.content;
    if (c === undefined || c === null) return false;
    if (typeof c === 'string') return !wellFormed(c);
    if (!Array.isArray(c)) return true;
    return c.some((p: Json) => {
      if (!isObject(p)) return true;
      if (lookalike(p, ['type', 'text', 'image_url', 'video_url'])) return true;
      if (p.type !== 'text' && 'text' in p) return true;
      if (isObject(p.image_url) && lookalike(p.image_url, ['url'])) return true;
      if (p.type === 'text') return typeof p.text !== 'string' || !wellFormed(p.text);
      if (p.type === 'video_url') return false;
      if (p.type !== 'image_url') return true;
      const image = p.image_url;
      if (!isObject(image) || typeof image.url !== 'string') return true;
      const scheme = schemeOf(image.url);
      if (scheme === 'data') return !wellFormed(image.url);
      return scheme !== 'http' && scheme !== 'https';
    });
  });
}

/** `sent` is a ciphertext of exactly `plain` under the session: decrypted independently. */
function expectCiphertextOf(sent: Json, plain: string): void {
  expect(typeof sent).toBe('string');
  expect(serverDecrypt(KEY, NONCE, sent as string)).toBe(plain);
}

/** Checks an accepted request's output against its input, place by place. */
function expectEncryptedEverywhere(input: Record<string, Json>, output: Json): void {
  expect(isObject(output)).toBe(true);
  const out = output as Record<string, Json>;
  const { messages: inMessages, ...inRest } = input;
  const { messages: outMessages, ...outRest } = out;
  expect(outRest).toEqual(inRest);
  const ins = inMessages as Json[];
  const outs = outMessages as Json[];
  expect(outs).toHaveLength(ins.length);
  ins.forEach((m, i) => {
    const o = outs[i] as Record<string, Json>;
    const { content: inContent, reasoning_content: reasoning, ...inFields } = m as Record<string, Json>;
    const { content: outContent, ...outFields } = o;
    // reasoning_content goes only as null; any other value is left out of the request.
    expect(outFields).toEqual(reasoning === null ? { ...inFields, reasoning_content: null } : inFields);
    if (inContent === undefined || inContent === null) {
      expect(outContent).toBe(inContent);
      expect('content' in o).toBe('content' in (m as object));
    } else if (typeof inContent === 'string') {
      expectCiphertextOf(outContent, inContent);
    } else {
      const inParts = inContent as Record<string, Json>[];
      const outParts = outContent as Record<string, Json>[];
      expect(outParts).toHaveLength(inParts.length);
      inParts.forEach((p, j) => {
        const q = outParts[j]!;
        if (p.type === 'text') {
          const { text: inText, ...rest } = p;
          const { text: outText, ...outPartRest } = q;
          expect(outPartRest).toEqual(rest);
          expectCiphertextOf(outText, inText as string);
        } else if (p.type === 'image_url') {
          const image = p.image_url as Record<string, Json>;
          const { url: inUrl, ...imageRest } = image;
          const { url: outUrl, ...outImageRest } = q.image_url as Record<string, Json>;
          expect(outImageRest).toEqual(imageRest);
          if (schemeOf(inUrl as string) === 'data') expectCiphertextOf(outUrl, inUrl as string);
          else expect(outUrl).toBe(inUrl); // http(s): the service fetches it; sent as it is, with a warning
        } else {
          expect(q).toEqual(p); // video_url
        }
      });
    }
  });
}

describe('fuzz: encryptChatRequest', () => {
  const parameters = fuzzParameters(1_000);
  it('a typed refusal exactly when §4 says so; otherwise every encrypted place holds a ciphertext of its text', () => {
    let accepted = 0;
    let refusals = 0;
    fc.assert(
      fc.property(request, (body) => {
        const before = structuredClone(body);
        const warnings: string[] = [];
        let output: Json;
        try {
          output = encryptChatRequest(body, SESSION, { onWarning: (w) => warnings.push(w) });
        } catch (error) {
          expect(error).toBeInstanceOf(UnsupportedContentError);
          expect((error as UnsupportedContentError).code).toBe('ERR_ARK_E2EE_UNSUPPORTED_CONTENT');
          expect(refused(body)).toBe(true);
          expect(body).toEqual(before);
          refusals++;
          return;
        }
        expect(refused(body)).toBe(false);
        // Compared with what JSON.stringify sends (-0 goes as 0).
        expectEncryptedEverywhere(JSON.parse(JSON.stringify(body)) as Record<string, Json>, output);
        expect(body).toEqual(before);
        accepted++;
      }),
      parameters,
    );
    // The generators reach both outcomes often enough to mean something.
    expect(accepted).toBeGreaterThan(parameters.numRuns / 10);
    expect(refusals).toBeGreaterThan(parameters.numRuns / 10);
  }, fuzzTimeout(1_000, 2));
});
