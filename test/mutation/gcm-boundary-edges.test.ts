/**
 * GcmBoundaryFinder's edges, where random inputs rarely land (mutation testing, issue 16): the
 * UTF-8 check byte by byte against the platform's fatal decoder (every lead byte with every
 * second, third and fourth byte), the search bound at exactly a piece's length, the shortest
 * pieces, and key streams longer than the first one computed.
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
        const layouts = [[lead, byte, 0x80, 0x80, 0x41]];
        if (lead >= 0xe0) layouts.push([lead, validSecond(lead), byte, 0x80, 0x41]);
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
