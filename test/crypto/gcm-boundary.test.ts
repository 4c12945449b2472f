/**
 * GcmBoundaryFinder's search, counted in tag checks (issue 10, fail fast): bytes that were not
 * made with the key stop the search within a few bytes, whatever their length; bytes made with
 * the key that never authenticate stop at the search bound; and genuine pieces are found exactly
 * as a search without those checks finds them. Work is counted, not timed.
 */
import { createCipheriv } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GcmBoundaryFinder } from '../../src/crypto/gcm-boundary.js';
import { resolveBackend } from '../../src/crypto/select.js';
import { DecryptionFailedError } from '../../src/errors.js';
import { MAX_SEARCHED_PIECE_BYTES, decryptPieces } from '../../src/protocol/pieces.js';
import { sessionFromKey } from '../../src/protocol/create-session.js';
import { serverEncrypt } from '../helpers/server-crypto.js';

const KEY = new Uint8Array(32).map((_, i) => 31 * i + 5);
const NONCE = new Uint8Array(12).map((_, i) => 11 * i + 1);
const backend = resolveBackend('node');
const finder = (): GcmBoundaryFinder => new GcmBoundaryFinder(backend, KEY, NONCE);

function seal(plain: Uint8Array): Uint8Array {
  const cipher = createCipheriv('aes-256-gcm', KEY, NONCE);
  return new Uint8Array(Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]));
}
/** Deterministic noise: bytes nobody made with the key. */
function noise(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}
/** Bytes that decrypt (under the key stream) to ASCII text, with no tag that matches anywhere. */
function textWithoutTags(length: number): Uint8Array {
  const stream = seal(new Uint8Array(length)).subarray(0, length);
  return new Uint8Array(length).map((_, i) => (97 + (i % 26)) ^ stream[i]!);
}

const MIB = 1024 * 1024;

describe('fail fast', () => {
  it('1 MiB of noise: a handful of tag checks with the UTF-8 check, one every 3 bytes without', () => {
    const bytes = noise(MIB - (MIB % 3));
    const checked = finder();
    expect(checked.firstEnd(bytes, 0, 3, { utf8: true })).toBeUndefined();
    expect(checked.lastMiss).toBe('not-utf8');
    expect(checked.candidates).toBeLessThan(20);

    const unchecked = finder();
    expect(unchecked.firstEnd(bytes, 0, 3)).toBeUndefined();
    expect(unchecked.candidates).toBeGreaterThan(bytes.length / 3 - 10);
  });

  it('noise anywhere, from any seed: the search stops within a few dozen checks', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 }), fc.integer({ min: 16, max: 4096 }), (seed, length) => {
        const search = finder();
        expect(search.firstEnd(noise(length, seed), 0, 3, { utf8: true })).toBeUndefined();
        expect(search.candidates).toBeLessThan(64);
      }),
      { numRuns: 200 },
    );
  });

  it('1 MiB made with the key that decrypts to text but never authenticates: stops at the bound', () => {
    const bytes = textWithoutTags(MIB - (MIB % 3));
    const search = finder();
    expect(search.firstEnd(bytes, 0, 3, { utf8: true, maxLength: MAX_SEARCHED_PIECE_BYTES })).toBeUndefined();
    expect(search.lastMiss).toBe('too-long');
    expect(search.candidates).toBeLessThanOrEqual(MAX_SEARCHED_PIECE_BYTES / 3);
  });

  it('through decryptPieces: noise and keyed text of 1 MiB are refused, DecryptionFailedError at offset 0', () => {
    const session = sessionFromKey(KEY, NONCE, { backend: 'node' });
    for (const bytes of [noise(MIB - (MIB % 3), 7), textWithoutTags(MIB - (MIB % 3))]) {
      const content = Buffer.from(bytes).toString('base64');
      expect(() => decryptPieces(content, session)).toThrow(DecryptionFailedError);
      try {
        decryptPieces(content, session);
      } catch (error) {
        expect((error as DecryptionFailedError).offset).toBe(0);
      }
    }
  });
});

describe('genuine pieces are found as before', () => {
  const text = fc.string({ unit: fc.constantFrom('a', 'é', '中', '😀', ' ', '\n', '\uFEFF', '\uFFFF'), maxLength: 40 });

  it('the UTF-8 check finds exactly the ends a search without it finds, with no more tag checks', () => {
    fc.assert(
      fc.property(fc.array(text, { minLength: 1, maxLength: 12 }), (texts) => {
        const pieces = texts.map((t) => seal(new TextEncoder().encode(t)));
        const bytes = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
        let at = 0;
        for (const piece of pieces) {
          bytes.set(piece, at);
          at += piece.length;
        }
        const checked = finder();
        const plain = finder();
        let start = 0;
        for (const piece of pieces) {
          const end = checked.firstEnd(bytes, start, piece.length % 3 === 0 ? 3 : 1, { utf8: true });
          expect(end).toBe(plain.firstEnd(bytes, start, piece.length % 3 === 0 ? 3 : 1));
          // A padded piece may end anywhere: searched byte by byte here.
          expect(end).toBe(piece.length);
          start += piece.length;
        }
        expect(checked.candidates).toBeLessThanOrEqual(plain.candidates);
      }),
      { numRuns: 200 },
    );
  });

  it('a long unpadded piece that is the last of its segment still decrypts; one followed by another piece is refused', () => {
    const session = sessionFromKey(KEY, NONCE, { backend: 'node' });
    const short = serverEncrypt(KEY, NONCE, 'abcde'); // 21 bytes: unpadded
    expect(short.endsWith('=')).toBe(false);
    // 3k - 16 bytes of text: an unpadded piece of 3k bytes, longer than the bound.
    const longLength = 3 * Math.ceil((MAX_SEARCHED_PIECE_BYTES + 1) / 3);
    const longText = 'x'.repeat(longLength - 16);
    const long = serverEncrypt(KEY, NONCE, longText);
    expect(long.endsWith('=')).toBe(false);
    expect(decryptPieces(short + short + long, session)).toBe(`abcdeabcde${longText}`);
    expect(() => decryptPieces(short + long + short, session)).toThrow(DecryptionFailedError);
    // Under the bound, the same layout is found.
    const under = serverEncrypt(KEY, NONCE, 'y'.repeat(3 * Math.floor(MAX_SEARCHED_PIECE_BYTES / 3) - 16));
    expect(under.endsWith('=')).toBe(false);
    expect(decryptPieces(short + under + short, session)).toMatch(/^abcdey+abcde$/);
  });
});
