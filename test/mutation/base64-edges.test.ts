/**
 * Strict base64 at the edges a property test rarely draws (issue 16): an empty slice just after
 * padding, a slice whose surroundings are not base64, a slice that stops before the end of a text
 * without padding, and the unused bits for each padding length. The alphabet's pattern and the
 * decoder's table of values are set once, when the module loads: a mutation run switches them only
 * then, so the tests of those read a copy loaded afresh (test/helpers/load-afresh.ts).
 */
import { describe, expect, it } from 'vitest';
import { decodeBase64, decodeBase64Into, isCanonicalBase64 } from '../../src/crypto/base64.js';
import { loadAfresh } from '../helpers/load-afresh.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

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

  it('a slice that starts at 0 and stops before the end decodes only its own characters', () => {
    // Buffer reads on to the end of a text without '=', so reading the whole text would show.
    expect(Array.from(decodeBase64('AAAAAAAA', 0, 4)!)).toEqual([0, 0, 0]);
    expect(Array.from(decodeBase64('QUJDREVG', 0, 4)!)).toEqual([65, 66, 67]);
    expect(Array.from(decodeBase64('QUJDREVG', 0, 8)!)).toEqual([65, 66, 67, 68, 69, 70]);
    expect(Array.from(decodeBase64('QUJDREVG', 4, 8)!)).toEqual([68, 69, 70]);
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

describe('decodeBase64Into at its edges', () => {
  it('decodes four zero-valued characters ("A" is 0) to three zero bytes', () => {
    const out = new Uint8Array(3).fill(9);
    expect(decodeBase64Into('AAAA', out)).toBe(3);
    expect(Array.from(out)).toEqual([0, 0, 0]);
  });

  it('refuses U+0080, the first code past the table of values, in every position', () => {
    const out = new Uint8Array(3);
    for (const text of ['\u0080AAA', 'A\u0080AA', 'AA\u0080A', 'AAA\u0080', 'AA\u0080=', 'A\u0080==']) {
      expect(decodeBase64Into(text, out), JSON.stringify(text)).toBe(-1);
    }
  });

  it('refuses a character outside the alphabet as the third of a quantum with one "="', () => {
    const out = new Uint8Array(2);
    for (const bad of ['!', '-', '_', '.', '\u00c0']) expect(decodeBase64Into(`QU${bad}=`, out), bad).toBe(-1);
    expect(decodeBase64Into('QUI=', out)).toBe(2);
  });
});

describe('base64.ts loaded afresh: the alphabet pattern and the table of values', () => {
  it('isCanonicalBase64 and decodeBase64 refuse a character outside the alphabet at the start and at the end', async () => {
    const fresh = await loadAfresh(() => import('../../src/crypto/base64.js'));
    for (const text of ['!QUJ', 'QUJ!', '!QI=', 'QU!=', '!Q==', 'Q!==', 'QUJD!QUJ', 'QUJD QI=']) {
      expect(fresh.isCanonicalBase64(text), text).toBe(false);
      expect(fresh.decodeBase64(text), text).toBeUndefined();
    }
    expect(fresh.isCanonicalBase64('QUJD')).toBe(true);
    expect(Array.from(fresh.decodeBase64('QUJD')!)).toEqual([65, 66, 67]);
  });

  it('decodeBase64Into decodes every alphabet character to its value', async () => {
    const fresh = await loadAfresh(() => import('../../src/crypto/base64.js'));
    const out = new Uint8Array(48);
    expect(fresh.decodeBase64Into(ALPHABET, out)).toBe(48);
    expect(Array.from(out)).toEqual(Array.from(Buffer.from(ALPHABET, 'base64')));
    // Each character alone, as the first of "xAAA": its 6-bit value in the top bits of byte 0.
    for (let value = 0; value < 64; value++) {
      const one = new Uint8Array(3);
      expect(fresh.decodeBase64Into(`${ALPHABET[value]!}AAA`, one), ALPHABET[value]).toBe(3);
      expect(one[0]).toBe(value << 2);
    }
  });

  it('decodeBase64Into refuses every ASCII character outside the alphabet', async () => {
    const fresh = await loadAfresh(() => import('../../src/crypto/base64.js'));
    const out = new Uint8Array(3);
    for (let code = 0; code < 128; code++) {
      const char = String.fromCharCode(code);
      if (ALPHABET.includes(char)) continue;
      expect(fresh.decodeBase64Into(`AA${char}A`, out), `code ${code}`).toBe(-1);
    }
  });
});
