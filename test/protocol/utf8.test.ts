/**
 * utf8DecodeShort (src/protocol/utf8.ts): short ASCII made in JS, everything else through the
 * strict decoder; the same text, or the same refusal, as utf8Decode for any bytes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecryptionFailedError } from '../../src/errors.js';
import { utf8Decode, utf8DecodeShort } from '../../src/protocol/utf8.js';

function outcome(decode: (bytes: Uint8Array) => string, bytes: Uint8Array): string | { refused: string } {
  try {
    return decode(bytes);
  } catch (error) {
    expect(error).toBeInstanceOf(DecryptionFailedError);
    return { refused: (error as Error).message };
  }
}

describe('utf8DecodeShort', () => {
  const ascii = fc.uint8Array({ max: 0x7f, maxLength: 80 });
  const text = fc.string({ unit: 'grapheme', maxLength: 30 }).map((t) => new TextEncoder().encode(t));
  const any = fc.uint8Array({ maxLength: 80 });

  it('agrees with utf8Decode on any bytes, short or long, ASCII or not, valid or not', () => {
    fc.assert(
      fc.property(fc.oneof(ascii, text, any), (bytes) => {
        expect(outcome(utf8DecodeShort, bytes)).toEqual(outcome(utf8Decode, bytes));
      }),
      { numRuns: 1000 },
    );
  });

  it('keeps NUL, a BOM and the last ASCII character; refuses a lone continuation byte', () => {
    expect(utf8DecodeShort(new Uint8Array([0, 0x41, 0x7f]))).toBe('\u0000A\u007f');
    expect(utf8DecodeShort(new Uint8Array([0xef, 0xbb, 0xbf, 0x41]))).toBe('\ufeffA');
    expect(utf8DecodeShort(new Uint8Array(64).fill(0x61))).toBe('a'.repeat(64));
    expect(utf8DecodeShort(new Uint8Array(65).fill(0x61))).toBe('a'.repeat(65));
    expect(() => utf8DecodeShort(new Uint8Array([0x41, 0x80]))).toThrow(DecryptionFailedError);
  });
});
