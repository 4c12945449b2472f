/**
 * Strict base64 at the edges a property test rarely draws (issue 16): an empty slice just after
 * padding, a slice whose surroundings are not base64, and the unused bits for each padding length.
 */
import { describe, expect, it } from 'vitest';
import { decodeBase64, isCanonicalBase64 } from '../../src/crypto/base64.js';

describe('strict base64 edges', () => {
  it('an empty slice is zero bytes, whatever the characters before it', () => {
    for (const text of ['AB==', 'QR==', 'QUJ=', '"==']) {
      expect(isCanonicalBase64(text, text.length, text.length)).toBe(true);
      expect(decodeBase64(text, text.length, text.length)).toEqual(new Uint8Array(0));
      expect(isCanonicalBase64(text, 2, 2)).toBe(true);
    }
  });

  it('a slice is judged by its own characters only', () => {
    expect(Array.from(decodeBase64('"QUJD"', 1, 5)!)).toEqual([65, 66, 67]);
    expect(Array.from(decodeBase64('"QUI="', 1, 5)!)).toEqual([65, 66]);
    expect(Array.from(decodeBase64('!QQ==', 1, 5)!)).toEqual([65]);
    expect(Array.from(decodeBase64('QUJD!', 0, 4)!)).toEqual([65, 66, 67]);
    expect(decodeBase64('"QUJD"', 0, 4)).toBeUndefined();
    expect(decodeBase64('QUJD', 0, 3)).toBeUndefined();
  });

  it('one "=": the last character\'s two low bits must be zero; two "=": its four', () => {
    expect(isCanonicalBase64('QUI=')).toBe(true); // I = 8 = 0b001000
    expect(isCanonicalBase64('QUJ=')).toBe(false); // J = 9: lowest bit set
    expect(isCanonicalBase64('QUK=')).toBe(false); // K = 10: second bit set
    expect(isCanonicalBase64('QUM=')).toBe(true); // M = 12: bits 2 and 3 are data with one "="
    expect(isCanonicalBase64('QQ==')).toBe(true); // Q = 16
    expect(isCanonicalBase64('QU==')).toBe(false); // U = 20: bit 2 set, unused with two "="
    expect(isCanonicalBase64('QY==')).toBe(false); // Y = 24: bit 3 set
    expect(isCanonicalBase64('Q/==')).toBe(false);
    expect(isCanonicalBase64('Qw==')).toBe(true); // w = 48
    expect(isCanonicalBase64('Q===')).toBe(false);
    expect(isCanonicalBase64('Q=Q=')).toBe(false);
    expect(isCanonicalBase64('====')).toBe(false);
  });

  it('decodes what it accepts, and never a partial result', () => {
    expect(Array.from(decodeBase64('QUM=')!)).toEqual([65, 67]);
    expect(Array.from(decodeBase64('Qw==')!)).toEqual([67]);
    expect(decodeBase64('QUJ=')).toBeUndefined();
    expect(decodeBase64('QUJDRA')).toBeUndefined();
    expect(decodeBase64('QUJD RA==')).toBeUndefined();
  });
});
