/**
 * The request body as text and back (src/protocol/request-body.ts): strict UTF-8, what
 * JSON.stringify sends, and typed refusals where the engine would throw RangeError or TypeError.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UnsupportedContentError, UnsupportedRequestError } from '../../src/errors.js';
import { asSentJson, parseChatRequestBody, requestBodyText, stringifyRequestBody } from '../../src/protocol/request-body.js';

/** Values JSON.stringify accepts, with toJSON, Dates, undefined members, -0, NaN, class instances. */
const withToJson = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.jsonValue({ maxDepth: 1 }),
    fc.constantFrom(undefined, -0, Number.NaN, Number.POSITIVE_INFINITY, new Date(0)),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 4 }), tie('value'), { maxKeys: 3 }),
    tie('value').map((inner) => ({ toJSON: () => inner, ignored: 'field' })),
    tie('value').map((inner) => Object.assign(new (class Box {})(), { inner })),
  ),
})).value;

function hasToJson(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if ('toJSON' in value) return true;
  return Object.values(value).some(hasToJson);
}

describe('asSentJson', () => {
  it('is what JSON.parse(JSON.stringify(value)) gives, for any value with toJSON, Dates, undefined…', () => {
    fc.assert(
      fc.property(withToJson, (value) => {
        const text = JSON.stringify(value);
        fc.pre(text !== undefined);
        const sent = asSentJson(value);
        // Equal data (a null-prototype object may come back as it is), and the same text.
        expect(sent).toEqual(JSON.parse(text));
        expect(JSON.stringify(sent)).toBe(text);
        expect(hasToJson(sent)).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('returns plain JSON data as it is, without a copy', () => {
    const body = { model: 'm', messages: [{ role: 'user', content: 'x' }], n: 1.5 };
    expect(asSentJson(body)).toBe(body);
  });

  it('too deep, a BigInt, a cycle, or nothing at all: UnsupportedContentError', () => {
    let deep: unknown = 0;
    for (let i = 0; i < 200_000; i++) deep = { d: deep };
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    for (const bad of [deep, { n: 1n }, cycle, undefined, () => 1]) {
      expect(() => asSentJson(bad)).toThrow(UnsupportedContentError);
      expect(() => stringifyRequestBody(bad)).toThrow(UnsupportedContentError);
    }
  });
});

describe('requestBodyText', () => {
  it('decodes any well-formed text exactly', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (text) => {
        expect(requestBodyText(new TextEncoder().encode(text))).toBe(text);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses bytes that are not UTF-8 instead of repairing them', () => {
    for (const bytes of [[0xff], [0xc3, 0x28], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]]) {
      expect(() => requestBodyText(new Uint8Array([0x7b, ...bytes, 0x7d]))).toThrow(UnsupportedRequestError);
    }
  });
});

describe('parseChatRequestBody', () => {
  it('needs a JSON object with a string model and a messages array', () => {
    expect(parseChatRequestBody('{"model":"m","messages":[]}')).toEqual({ body: { model: 'm', messages: [] }, model: 'm' });
    for (const text of ['', 'x', '[]', 'null', '{"messages":[]}', '{"model":1,"messages":[]}', '{"model":"m","messages":{}}', '{"model":"m","Messages":[]}']) {
      expect(() => parseChatRequestBody(text), text).toThrow(UnsupportedRequestError);
    }
  });
});
