/**
 * Strict canonical base64 (src/crypto/base64.ts), on the Buffer path and on the pure-JS path
 * (the module reads globalThis.Buffer once, at import time).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

type Base64Module = typeof import('../../src/crypto/base64.js');

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const RealBuffer = globalThis.Buffer;

function reference(bytes: Uint8Array): string {
  return RealBuffer.from(bytes).toString('base64');
}

/** Canonical encodings with their bytes, and a position in the encoding. */
const encoded = fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => ({ bytes, text: reference(bytes) }));

async function loadWithoutBuffer(): Promise<Base64Module> {
  vi.resetModules();
  vi.stubGlobal('Buffer', undefined);
  try {
    return await import('../../src/crypto/base64.js');
  } finally {
    vi.unstubAllGlobals();
  }
}

async function loadWithBuffer(): Promise<Base64Module> {
  vi.resetModules();
  return await import('../../src/crypto/base64.js');
}

afterAll(() => {
  vi.unstubAllGlobals();
  vi.resetModules();
});

describe.each([
  ['with globalThis.Buffer', loadWithBuffer],
  ['without globalThis.Buffer', loadWithoutBuffer],
] as const)('base64 %s', (name, load) => {
  let mod: Base64Module;

  beforeAll(async () => {
    mod = await load();
    expect(globalThis.Buffer).toBe(RealBuffer);
  });

  it(`uses Buffer only when it exists at import time`, () => {
    const spy = vi.spyOn(RealBuffer, 'from');
    try {
      mod.decodeBase64(mod.encodeBase64(new Uint8Array([1, 2, 3, 4])));
      const expected = name === 'with globalThis.Buffer' ? 2 : 0;
      expect(spy).toHaveBeenCalledTimes(expected);
    } finally {
      spy.mockRestore();
    }
  });

  it('encodes like Buffer for any bytes, and decodes back', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const text = mod.encodeBase64(bytes);
        expect(text).toBe(reference(bytes));
        const back = mod.decodeBase64(text);
        expect(back).toBeInstanceOf(Uint8Array);
        expect(Array.from(back!)).toEqual(Array.from(bytes));
      }),
      { numRuns: 300 },
    );
  });

  it('encodes a subarray view by its own bytes only', () => {
    const all = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(mod.encodeBase64(all.subarray(2, 5))).toBe(reference(new Uint8Array([3, 4, 5])));
  });

  it('decodes a slice given by start and end', () => {
    fc.assert(
      fc.property(encoded, encoded, encoded, (a, b, c) => {
        const text = a.text + b.text + c.text;
        const start = a.text.length;
        const slice = mod.decodeBase64(text, start, start + b.text.length);
        expect(Array.from(slice!)).toEqual(Array.from(b.bytes));
        expect(mod.isCanonicalBase64(text, start, start + b.text.length)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('takes the empty string as zero bytes', () => {
    expect(mod.decodeBase64('')?.length).toBe(0);
    expect(mod.encodeBase64(new Uint8Array(0))).toBe('');
  });

  it('refuses unused low bits set before the padding', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 40 }).filter((b) => b.length % 3 !== 0),
        fc.integer({ min: 1, max: 15 }),
        (bytes, bits) => {
          const text = reference(bytes);
          const padding = text.endsWith('==') ? 2 : 1;
          const mask = padding === 1 ? 0b11 : 0b1111;
          const lastIndex = text.length - padding - 1;
          const value = ALPHABET.indexOf(text.charAt(lastIndex)) | (bits & mask);
          fc.pre((bits & mask) !== 0);
          const bad = text.slice(0, lastIndex) + ALPHABET.charAt(value) + text.slice(lastIndex + 1);
          expect(mod.decodeBase64(bad)).toBeUndefined();
          expect(mod.isCanonicalBase64(bad)).toBe(false);
        },
      ),
      { numRuns: 200 },
    );
    expect(mod.decodeBase64('QQ==')).toEqual(new Uint8Array([0x41]));
    expect(mod.decodeBase64('QR==')).toBeUndefined();
    expect(mod.decodeBase64('QUE=')).toEqual(new Uint8Array([0x41, 0x41]));
    expect(mod.decodeBase64('QUF=')).toBeUndefined();
  });

  it('refuses a wrong length', () => {
    fc.assert(
      fc.property(encoded, fc.integer({ min: 1, max: 3 }), (e, cut) => {
        expect(mod.decodeBase64(e.text.slice(0, e.text.length - cut))).toBeUndefined();
        expect(mod.decodeBase64(e.text + 'A'.repeat(cut))).toBeUndefined();
      }),
      { numRuns: 200 },
    );
    for (const bad of ['A', 'AB', 'ABC', 'ABCDE', '=', '==', '===', '====', 'A===', 'AB=', 'A=']) {
      expect(mod.decodeBase64(bad), bad).toBeUndefined();
    }
  });

  it('refuses characters outside the alphabet, base64url and whitespace', () => {
    const outside = fc.oneof(
      fc.constantFrom('-', '_', ' ', '\n', '\r', '\t', '.', '*', '\0', 'é', '\u00a0', '\ufeff', '😀'),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }).filter((ch) => !ALPHABET.includes(ch) && ch !== '='),
    );
    fc.assert(
      fc.property(encoded, fc.nat(), outside, (e, at, ch) => {
        const index = at % e.text.length;
        const replaced = e.text.slice(0, index) + ch + e.text.slice(index + 1);
        expect(mod.decodeBase64(replaced)).toBeUndefined();
        const inserted = e.text.slice(0, index) + ch + e.text.slice(index);
        expect(mod.decodeBase64(inserted)).toBeUndefined();
      }),
      { numRuns: 300 },
    );
    expect(mod.decodeBase64('-_-_')).toBeUndefined();
    expect(mod.decodeBase64('QUJD\n')).toBeUndefined();
    expect(mod.decodeBase64(' QUJD')).toBeUndefined();
    expect(mod.decodeBase64('QU JD')).toBeUndefined();
  });

  it('refuses `=` anywhere but the last two characters', () => {
    fc.assert(
      fc.property(encoded, encoded, (a, b) => {
        // A padded piece followed by anything is not one canonical encoding.
        fc.pre(a.text.endsWith('='));
        expect(mod.decodeBase64(a.text + b.text)).toBeUndefined();
      }),
      { numRuns: 100 },
    );
    fc.assert(
      fc.property(encoded, fc.nat(), (e, at) => {
        const limit = e.text.length - 2;
        fc.pre(limit > 0);
        const index = at % limit;
        const bad = e.text.slice(0, index) + '=' + e.text.slice(index + 1);
        expect(mod.decodeBase64(bad)).toBeUndefined();
      }),
      { numRuns: 200 },
    );
    expect(mod.decodeBase64('QQ=A')).toBeUndefined();
    expect(mod.decodeBase64('Q=A=')).toBeUndefined();
  });
});

describe('decodeBase64Into (short texts, in JS): the same acceptance and bytes as decodeBase64', () => {
  let mod: Base64Module;
  beforeAll(async () => {
    mod = await loadWithBuffer();
  });

  /** Canonical encodings, and the same with one character changed, added or dropped. */
  const texts = fc.oneof(
    encoded.map((e) => e.text),
    fc.tuple(encoded, fc.nat(), fc.constantFrom(...`${ALPHABET}=-_ .\n\0é😀`)).map(([e, at, ch]) => {
      const i = at % e.text.length;
      return e.text.slice(0, i) + ch + e.text.slice(i + 1);
    }),
    fc.tuple(encoded, fc.nat(), fc.constantFrom('A', '=', '/')).map(([e, at, ch]) => {
      const i = at % (e.text.length + 1);
      return e.text.slice(0, i) + ch + e.text.slice(i);
    }),
    encoded.map((e) => e.text.slice(1)),
    fc.string({ unit: fc.constantFrom(...`${ALPHABET}=`), maxLength: 12 }),
  );

  it('agrees with decodeBase64 on any text', () => {
    fc.assert(
      fc.property(texts, (text) => {
        const out = new Uint8Array(64);
        const length = mod.decodeBase64Into(text, out);
        const expected = mod.decodeBase64(text);
        if (expected === undefined) expect(length).toBe(-1);
        else expect(Array.from(out.subarray(0, length))).toEqual(Array.from(expected));
      }),
      { numRuns: 1000 },
    );
    const out = new Uint8Array(4);
    expect(mod.decodeBase64Into('', out)).toBe(0);
    expect(mod.decodeBase64Into('QQ==', out)).toBe(1);
    expect(mod.decodeBase64Into('QR==', out)).toBe(-1);
    expect(mod.decodeBase64Into('QUE=', out)).toBe(2);
    expect(mod.decodeBase64Into('QUF=', out)).toBe(-1);
    for (const bad of ['====', 'A===', 'Q=A=', 'QQ=A', 'ÀÀÀÀ', 'QUJ\u0144']) expect(mod.decodeBase64Into(bad, out), bad).toBe(-1);
  });

  it('refuses what does not fit, and fills exactly what does', () => {
    fc.assert(
      fc.property(encoded, (e) => {
        expect(mod.decodeBase64Into(e.text, new Uint8Array(e.bytes.length - 1))).toBe(-1);
        const out = new Uint8Array(e.bytes.length);
        expect(mod.decodeBase64Into(e.text, out)).toBe(e.bytes.length);
        expect(Array.from(out)).toEqual(Array.from(e.bytes));
      }),
      { numRuns: 200 },
    );
  });
});
