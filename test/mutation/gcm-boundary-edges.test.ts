/**
 * GcmBoundaryFinder's edges, where random inputs rarely land (mutation testing, issue 16): the
 * UTF-8 check byte by byte against the platform's fatal decoder (every lead byte with every
 * second, third and fourth byte), the search bound at exactly a piece's length, the shortest
 * pieces, and key streams longer than the first one computed; that the finder never reads a
 * byte outside the bytes it was given, writes nothing past a plaintext, and computes its key
 * stream once per doubling.
 */
import { describe, expect, it } from 'vitest';
import { GCM_TAG_LENGTH } from '../../src/crypto/backend.js';
import { GcmBoundaryFinder } from '../../src/crypto/gcm-boundary.js';
import nodeCrypto from 'node:crypto';
import { createNodeBackend } from '../../src/crypto/node.js';

const backend = createNodeBackend(nodeCrypto);
const KEY = new Uint8Array(32).map((_, i) => 3 * i + 1);
const NONCE = new Uint8Array(12).map((_, i) => 250 - 7 * i);
const finder = new GcmBoundaryFinder(backend, KEY, NONCE);
const seal = (plaintext: Uint8Array): Uint8Array => backend.seal(KEY, NONCE, plaintext);

function isUtf8(bytes: Uint8Array): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** A second byte that is valid after `lead`, so that the byte under test comes third or fourth. */
const validSecond = (lead: number): number => (lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80);

describe('the UTF-8 check decides as a fatal TextDecoder does', () => {
  it('every lead byte followed by every byte, in second, third and fourth place', () => {
    const disagreements: string[] = [];
    for (let lead = 0; lead < 0x100; lead++) {
      for (let byte = 0; byte < 0x100; byte++) {
        // Each byte under test followed by as many continuation bytes as a character could
        // still need (none, one, two), so that complete characters occur, not only broken ones.
        const layouts = [[lead, byte, 0x41], [lead, byte, 0x80, 0x41], [lead, byte, 0x80, 0x80, 0x41]];
        if (lead >= 0xe0) layouts.push([lead, validSecond(lead), byte, 0x41], [lead, validSecond(lead), byte, 0x80, 0x41]);
        if (lead >= 0xf0) layouts.push([lead, validSecond(lead), 0x80, byte, 0x41]);
        for (const layout of layouts) {
          const plaintext = new Uint8Array(layout);
          const sealed = seal(plaintext);
          const end = finder.firstEnd(sealed, 0, 1, { utf8: true });
          const expected = isUtf8(plaintext) ? sealed.length : undefined;
          if (end !== expected || (end === undefined && finder.lastMiss !== 'not-utf8')) {
            disagreements.push(`${Buffer.from(plaintext).toString('hex')}: ${end} ${finder.lastMiss}`);
          }
        }
      }
    }
    expect(disagreements).toEqual([]);
  });

  it('a piece that ends inside a character is no piece; the next one after it is tried', () => {
    // "é" is c3 a9: cut after c3, the plaintext is not text, even though that cut authenticates.
    const cut = seal(new Uint8Array([0x61, 0xc3]));
    expect(finder.firstEnd(cut, 0, 1, { utf8: true })).toBeUndefined();
    expect(finder.lastMiss).toBe('not-utf8');
    expect(finder.firstEnd(cut, 0, 1)).toBe(cut.length);
  });
});

describe('the characters at the edges of each UTF-8 range', () => {
  it.each([
    ['U+0080 (c2 80), the lowest two-byte character', [0xc2, 0x80]],
    ['U+07FF (df bf), the highest two-byte character', [0xdf, 0xbf]],
    ['U+0800 (e0 a0 80), the lowest three-byte character', [0xe0, 0xa0, 0x80]],
    ['U+D7FF (ed 9f bf), the last before the surrogates', [0xed, 0x9f, 0xbf]],
    ['U+10000 (f0 90 80 80)', [0xf0, 0x90, 0x80, 0x80]],
    ['U+10FFFF (f4 8f bf bf)', [0xf4, 0x8f, 0xbf, 0xbf]],
  ])('%s is text', (_, character) => {
    const sealed = seal(new Uint8Array([0x61, ...character, 0x62]));
    expect(finder.firstEnd(sealed, 0, 1, { utf8: true })).toBe(sealed.length);
  });

  it.each([
    ['a surrogate, U+D800 as ed a0 80', [0xed, 0xa0, 0x80]],
    ['an overlong U+07FF, e0 9f bf', [0xe0, 0x9f, 0xbf]],
    ['an overlong U+003F, c1 bf', [0xc1, 0xbf]],
    ['past U+10FFFF, f4 90 80 80', [0xf4, 0x90, 0x80, 0x80]],
  ])('%s is not', (_, bytes) => {
    const sealed = seal(new Uint8Array([0x61, ...bytes, 0x62]));
    expect(finder.firstEnd(sealed, 0, 1, { utf8: true })).toBeUndefined();
    expect(finder.lastMiss).toBe('not-utf8');
  });
});

describe('the search bound', () => {
  const piece = seal(new TextEncoder().encode('x'.repeat(40))); // 56 bytes
  const bytes = new Uint8Array([...piece, ...seal(new TextEncoder().encode('tail'))]);

  it('a piece exactly as long as the bound is found; one byte more is too long', () => {
    expect(finder.firstEnd(bytes, 0, 1, { maxLength: piece.length })).toBe(piece.length);
    expect(finder.firstEnd(bytes, 0, 1, { maxLength: piece.length - 1 })).toBeUndefined();
    expect(finder.lastMiss).toBe('too-long');
  });

  it('past the bound the search stops before the end of the bytes (the caller opens the rest whole)', () => {
    expect(finder.firstEnd(piece, 0, 1, { maxLength: 16 })).toBeUndefined();
    expect(finder.lastMiss).toBe('too-long');
    // 56 is no multiple of 5: the end is a candidate of its own, within the bound.
    expect(finder.firstEnd(piece, 0, 5, { maxLength: piece.length })).toBe(piece.length);
  });

  it('the end of the bytes is tried when the next candidate reaches it, even past the bound', () => {
    // 40 bytes, candidates every 16: 16, 32, then the end (40) although the bound is 36.
    const sealed = seal(new TextEncoder().encode('y'.repeat(24)));
    expect(sealed.length).toBe(40);
    expect(finder.firstEnd(sealed, 0, 16, { maxLength: 36 })).toBe(40);
    const after = new Uint8Array([...seal(new Uint8Array([7])), ...sealed]);
    expect(finder.firstEnd(after, 17, 16, { maxLength: 36 })).toBe(40);
  });

  it('a search that finds nothing says so: no-tag', () => {
    const flipped = piece.slice();
    flipped[20]! ^= 4;
    expect(finder.firstEnd(flipped, 0, 1, { maxLength: 1000 })).toBeUndefined();
    expect(finder.lastMiss).toBe('no-tag');
    // Still ASCII after the flip ('x' ^ 4 = '|'): text without a tag.
    expect(finder.firstEnd(flipped, 0, 1, { utf8: true })).toBeUndefined();
    expect(finder.lastMiss).toBe('no-tag');
    flipped[20]! ^= 0x80; // 0xfc: no UTF-8 text holds it
    expect(finder.firstEnd(flipped, 0, 1, { utf8: true })).toBeUndefined();
    expect(finder.lastMiss).toBe('not-utf8');
  });
});

describe('shortest pieces', () => {
  it('an empty plaintext is a bare 16-byte tag: found, opened, and its plaintext is empty', () => {
    const tagOnly = seal(new Uint8Array(0));
    expect(tagOnly.length).toBe(GCM_TAG_LENGTH);
    for (const step of [1, 3, 16, 17]) expect(finder.firstEnd(tagOnly, 0, step)).toBe(16);
    expect(finder.open(tagOnly)).toEqual(new Uint8Array(0));
    expect(finder.firstEnd(tagOnly.subarray(1), 0, 1)).toBeUndefined();
    expect(finder.open(tagOnly.subarray(1))).toBeUndefined();
  });

  it('a search from an offset counts from there: start + length is the end', () => {
    const first = seal(new Uint8Array([1, 2, 3]));
    const second = seal(new Uint8Array([4, 5]));
    const bytes = new Uint8Array([...first, ...second]);
    expect(finder.firstEnd(bytes, first.length, 1)).toBe(second.length);
    expect(finder.plaintextOf(bytes, first.length, second.length)).toEqual(new Uint8Array([4, 5]));
    expect(finder.firstEnd(bytes, bytes.length - 15, 1)).toBeUndefined();
  });
});

describe('reads stay inside the bytes given', () => {
  /** `bytes` behind a proxy that records every index read outside `[0, length)`. */
  function watched(bytes: Uint8Array): { bytes: Uint8Array; outside: string[] } {
    const outside: string[] = [];
    const proxy = new Proxy(bytes, {
      get(target, property) {
        if (typeof property === 'string' && /^-?\d+$/.test(property)) {
          const index = Number(property);
          if (index < 0 || index >= target.length) outside.push(property);
        }
        return Reflect.get(target, property) as unknown;
      },
    });
    return { bytes: proxy, outside };
  }

  it('fewer than 16 bytes are no sealed message: nothing is read and no tag is checked', () => {
    for (let length = 0; length < GCM_TAG_LENGTH; length++) {
      const search = new GcmBoundaryFinder(backend, KEY, NONCE);
      const { bytes, outside } = watched(seal(new Uint8Array(0)).subarray(0, length));
      expect(search.firstEnd(bytes, 0, 1)).toBeUndefined();
      expect(search.open(bytes)).toBeUndefined();
      expect(outside).toEqual([]);
      expect(search.candidates).toBe(0);
      expect(search.lastMiss).toBe('no-tag');
    }
  });

  it('a search from an offset reads nothing past the end, and finds a piece whose length is no multiple of the step', () => {
    const first = seal(new Uint8Array([9, 9, 9]));
    const second = seal(new TextEncoder().encode('seven!!')); // 23 bytes: no multiple of 4
    const { bytes, outside } = watched(new Uint8Array([...first, ...second]));
    expect(finder.firstEnd(bytes, first.length, 4)).toBe(second.length);
    expect(finder.firstEnd(bytes, first.length + 1, 4)).toBeUndefined();
    expect(finder.firstEnd(bytes, first.length, 4, { maxLength: 20 })).toBe(second.length);
    expect(outside).toEqual([]);
  });

  it('a fresh finder has missed nothing yet: lastMiss is no-tag', () => {
    expect(new GcmBoundaryFinder(backend, KEY, NONCE).lastMiss).toBe('no-tag');
  });
});

describe('plaintextInto', () => {
  it('writes the plaintext at its place and not one byte past it', () => {
    const plaintext = new TextEncoder().encode('within bounds');
    const sealed = seal(plaintext);
    const out = new Uint8Array(plaintext.length + 40).fill(0xee);
    finder.plaintextInto(sealed, 0, sealed.length, out, 3);
    expect(out.subarray(3, 3 + plaintext.length)).toEqual(plaintext);
    expect([...out.subarray(0, 3), ...out.subarray(3 + plaintext.length)].every((byte) => byte === 0xee)).toBe(true);
  });
});

describe('the key stream is computed once per doubling', () => {
  it('seals zeros of 1 024 bytes first, then twice the last length, never for a size it already holds', () => {
    const sealedLengths: number[] = [];
    const counting = { ...backend, seal: (key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array) => {
      sealedLengths.push(plaintext.length);
      return backend.seal(key, nonce, plaintext);
    } };
    const search = new GcmBoundaryFinder(counting, KEY, NONCE);
    // Each size, and the stream lengths sealed once it is read: a size equal to the stream held seals nothing.
    const steps: [number, number[]][] = [
      [10, [1024]],
      [1024, [1024]],
      [1025, [1024, 2048]],
      [1026, [1024, 2048]],
      [2048, [1024, 2048]],
      [2049, [1024, 2048, 4096]],
      [5000, [1024, 2048, 4096, 8192]],
      [9000, [1024, 2048, 4096, 8192, 16384]],
      [9001, [1024, 2048, 4096, 8192, 16384]],
    ];
    for (const [size, sealedSoFar] of steps) {
      const plaintext = new Uint8Array(size).fill(0x41);
      const sealed = seal(plaintext);
      expect(search.plaintextOf(sealed, 0, sealed.length)).toEqual(plaintext);
      expect(sealedLengths, `after ${size} bytes`).toEqual(sealedSoFar);
    }
  });
});

describe('key streams longer than the first one computed', () => {
  it('pieces of growing length, each opened from the shared key stream as it grows', () => {
    const search = new GcmBoundaryFinder(backend, KEY, NONCE);
    for (const size of [10, 1000, 1100, 3000, 2500, 9000]) {
      const plaintext = new Uint8Array(size).map((_, i) => 0x41 + (i % 26));
      const sealed = seal(plaintext);
      expect(search.firstEnd(sealed, 0, sealed.length, { utf8: true })).toBe(sealed.length);
      expect(search.plaintextOf(sealed, 0, sealed.length)).toEqual(plaintext);
      expect(search.open(sealed)).toEqual(plaintext);
    }
  });
});
