/**
 * src/protocol/der.ts at each of its bounds (docs/security.md, "Mutation testing"): the last
 * input a rule accepts and the first it refuses, for lengths, INTEGERs, BOOLEANs, BIT STRINGs,
 * OBJECT IDENTIFIERs, times and strings, with the exact message. The reader is strict by design
 * (one DER encoding per value), so each bound is part of what it promises.
 */
import { describe, expect, it } from 'vitest';
import {
  DerError,
  TAG,
  bitStringAt,
  booleanAt,
  bytesOf,
  childrenOf,
  contentOf,
  decodeOid,
  expectTag,
  integerAt,
  oidAt,
  readTlv,
  readWhole,
  sameBytes,
  smallIntegerAt,
  stringAt,
  timeAt,
  type Tlv,
} from '../../src/protocol/der.js';
import { InvalidCertificateError } from '../../src/errors.js';
import { PEM_CERTIFICATE_BEGIN, PEM_CERTIFICATE_END, encodePem, pemBeginLabel, pemBlockDer, splitPemCertificates } from '../../src/protocol/pem.js';
import { ascii, bytes, concat, tlv } from '../helpers/der-builder.js';

function refusal(read: () => unknown): string {
  try {
    read();
  } catch (error) {
    expect(error).toBeInstanceOf(DerError);
    expect(error).toBeInstanceOf(InvalidCertificateError);
    return (error as Error).message;
  }
  throw new Error('read without a refusal');
}

/** The value of `encoded` (one TLV) as the readers get it. */
const at = (encoded: Uint8Array): [Uint8Array, Tlv] => [encoded, readTlv(encoded, 0)];

describe('readTlv', () => {
  it('reads short and long lengths at their bounds', () => {
    expect(readTlv(bytes(0x04, 0x00), 0)).toEqual({ tag: 4, start: 0, contentStart: 2, end: 2 });
    expect(readTlv(concat([bytes(0x04, 0x7f), new Uint8Array(0x7f)]), 0)).toEqual({ tag: 4, start: 0, contentStart: 2, end: 0x81 });
    expect(readTlv(concat([bytes(0x04, 0x81, 0x80), new Uint8Array(0x80)]), 0)).toEqual({ tag: 4, start: 0, contentStart: 3, end: 0x83 });
    expect(readTlv(concat([bytes(0x04, 0x82, 0x01, 0x00), new Uint8Array(0x100)]), 0)).toEqual({ tag: 4, start: 0, contentStart: 4, end: 0x104 });
    // At an offset, and with a limit of exactly its end.
    const two = bytes(0x05, 0x00, 0x04, 0x01, 0xaa);
    expect(readTlv(two, 2, 5)).toEqual({ tag: 4, start: 2, contentStart: 4, end: 5 });
  });

  it.each<[string, Uint8Array, string]>([
    ['one byte', bytes(0x30), 'truncated'],
    ['a high tag number', bytes(0x1f, 0x01, 0x00), 'high tag numbers are not used in certificates'],
    ['an indefinite length', bytes(0x30, 0x80, 0x00, 0x00), 'indefinite length (BER, not DER)'],
    ['a length of five octets', bytes(0x04, 0x85, 1, 0, 0, 0, 0), 'bad length'],
    ['a length of four octets past the end (four are allowed)', bytes(0x04, 0x84, 1, 0, 0, 0), 'truncated'],
    ['a length cut short', bytes(0x04, 0x82, 0x01), 'truncated'],
    // The length octets themselves missing: read as zeros, they would say "non-minimal" instead.
    ['a long form with no length octets', bytes(0x04, 0x81), 'truncated'],
    ['a long form with its second length octet missing', bytes(0x04, 0x82, 0x00), 'truncated'],
    ['a long form for a short length', bytes(0x04, 0x81, 0x05, 1, 2, 3, 4, 5), 'non-minimal length'],
    ['a long form of 0x7f', concat([bytes(0x04, 0x81, 0x7f), new Uint8Array(0x7f)]), 'non-minimal length'],
    ['a leading zero octet in the length', concat([bytes(0x04, 0x82, 0x00, 0x90), new Uint8Array(0x90)]), 'non-minimal length'],
    ['content past the end', bytes(0x04, 0x03, 1, 2), 'truncated'],
  ])('refuses %s', (_, input, message) => {
    expect(refusal(() => readTlv(input, 0))).toBe(message);
  });

  it('refuses a value that runs past its parent, though not past the buffer', () => {
    const parent = bytes(0x30, 0x03, 0x04, 0x02, 0xaa, 0xbb);
    expect(refusal(() => childrenOf(parent, { tag: 0x30, start: 0, contentStart: 2, end: 5 }))).toBe('truncated');
    expect(childrenOf(parent, { tag: 0x30, start: 0, contentStart: 2, end: 6 })).toEqual([{ tag: 4, start: 2, contentStart: 4, end: 6 }]);
  });
});

describe('whole values, tags, children, copies', () => {
  it('readWhole counts the bytes after the value', () => {
    expect(refusal(() => readWhole(bytes(0x30, 0x00, 0x00, 0x00), TAG.sequence, 'list'))).toBe('2 stray bytes after the list');
    expect(refusal(() => readWhole(bytes(0x31, 0x00), TAG.sequence, 'list'))).toBe('the list has tag 0x31, expected 0x30');
    expect(readWhole(bytes(0x30, 0x00), TAG.sequence, 'list')).toEqual({ tag: 0x30, start: 0, contentStart: 2, end: 2 });
  });

  it('expectTag names what is missing or mistyped', () => {
    expect(refusal(() => expectTag(undefined, TAG.integer, 'serial'))).toBe('the serial is missing');
    expect(refusal(() => expectTag({ tag: 0x04, start: 0, contentStart: 2, end: 2 }, TAG.integer, 'serial'))).toBe('the serial has tag 0x4, expected 0x2');
  });

  it('childrenOf refuses a primitive parent, and lists each child of a constructed one', () => {
    expect(refusal(() => childrenOf(bytes(0x04, 0x00), { tag: 0x04, start: 0, contentStart: 2, end: 2 }))).toBe('a primitive value where a constructed one belongs');
    const list = bytes(0x30, 0x06, 0x02, 0x01, 0x05, 0x04, 0x01, 0x07);
    expect(childrenOf(list, readTlv(list, 0))).toEqual([
      { tag: 2, start: 2, contentStart: 4, end: 5 },
      { tag: 4, start: 5, contentStart: 7, end: 8 },
    ]);
    expect(childrenOf(bytes(0xa3, 0x00), readTlv(bytes(0xa3, 0x00), 0))).toEqual([]);
  });

  it('bytesOf and contentOf copy; bytesOf refuses a missing field', () => {
    const [der, value] = at(bytes(0x04, 0x02, 0xaa, 0xbb));
    const whole = bytesOf(der, value);
    const content = contentOf(der, value);
    der.fill(0);
    expect(whole).toEqual(bytes(0x04, 0x02, 0xaa, 0xbb));
    expect(content).toEqual(bytes(0xaa, 0xbb));
    expect(refusal(() => bytesOf(der, undefined))).toBe('missing field');
  });

  it('sameBytes compares lengths and every byte', () => {
    expect(sameBytes(bytes(1, 2), bytes(1, 2))).toBe(true);
    expect(sameBytes(bytes(), bytes())).toBe(true);
    expect(sameBytes(bytes(1, 2), bytes(1, 2, 3))).toBe(false);
    expect(sameBytes(bytes(1, 2, 3), bytes(1, 2))).toBe(false);
    expect(sameBytes(bytes(1, 2), bytes(1, 3))).toBe(false);
    expect(sameBytes(bytes(0, 2), bytes(1, 2))).toBe(false);
  });
});

describe('INTEGER', () => {
  const integer = (...content: number[]) => at(tlv(0x02, bytes(...content)));

  it('takes the minimal encodings at each sign bound, and copies them', () => {
    for (const content of [[0x00], [0x7f], [0x00, 0x80], [0xff], [0xff, 0x7f], [0x80], [0x01, 0x00]]) {
      const [der, value] = integer(...content);
      const read = integerAt(der, value, 'n');
      der.fill(0x55);
      expect(read).toEqual(bytes(...content));
    }
  });

  it.each<[string, number[], string]>([
    ['empty', [], 'the n is an empty INTEGER'],
    ['a needless 00', [0x00, 0x7f], 'the n is a non-minimal INTEGER'],
    ['a needless 00 before 00', [0x00, 0x00], 'the n is a non-minimal INTEGER'],
    ['a needless ff', [0xff, 0x80], 'the n is a non-minimal INTEGER'],
    ['a needless ff before ff', [0xff, 0xff], 'the n is a non-minimal INTEGER'],
  ])('refuses %s', (_, content, message) => {
    const [der, value] = integer(...content);
    expect(refusal(() => integerAt(der, value, 'n'))).toBe(message);
  });

  it('smallIntegerAt reads up to 2^31 - 1 and refuses what is negative or larger', () => {
    const small = (...content: number[]) => {
      const [der, value] = integer(...content);
      return () => smallIntegerAt(der, value, 'pathLength');
    };
    expect(small(0x00)()).toBe(0);
    expect(small(0x01, 0x00)()).toBe(256);
    expect(small(0x7f, 0xff, 0xff, 0xff)()).toBe(0x7fffffff);
    expect(refusal(small(0x80))).toBe('the pathLength is negative');
    expect(refusal(small(0xff, 0x7f))).toBe('the pathLength is negative');
    expect(refusal(small(0x00, 0x80, 0x00, 0x00, 0x00))).toBe('the pathLength is too large');
    expect(refusal(small(0x00, 0xff, 0xff, 0xff, 0xff))).toBe('the pathLength is too large');
    expect(refusal(small(0x01, 0x00, 0x00, 0x00, 0x00))).toBe('the pathLength is too large');
    expect(refusal(small(0x01, 0x00, 0x00, 0x00, 0x00, 0x00))).toBe('the pathLength is too large');
    // 256^199 is past the largest double: the value read is Infinity, still refused.
    expect(refusal(small(0x01, ...new Array<number>(199).fill(0)))).toBe('the pathLength is too large');
  });
});

describe('BOOLEAN', () => {
  it('is 00 or ff, one octet', () => {
    const boolean = (...content: number[]) => {
      const [der, value] = at(tlv(0x01, bytes(...content)));
      return () => booleanAt(der, value, 'flag');
    };
    expect(boolean(0xff)()).toBe(true);
    expect(boolean(0x00)()).toBe(false);
    for (const content of [[0x01], [0xfe], [], [0xff, 0xff], [0x00, 0x00]]) {
      expect(refusal(boolean(...content))).toBe('the flag is not a DER BOOLEAN');
    }
  });
});

describe('BIT STRING', () => {
  const bits = (...content: number[]) => {
    const [der, value] = at(tlv(0x03, bytes(...content)));
    return () => bitStringAt(der, value, 'key');
  };

  it('reads the unused-bit count and the octets, zero unused bits set', () => {
    expect(bits(0x00)()).toEqual({ unusedBits: 0, bytes: bytes() });
    expect(bits(0x00, 0xff)()).toEqual({ unusedBits: 0, bytes: bytes(0xff) });
    expect(bits(0x07, 0x80)()).toEqual({ unusedBits: 7, bytes: bytes(0x80) });
    expect(bits(0x01, 0xfe)()).toEqual({ unusedBits: 1, bytes: bytes(0xfe) });
  });

  it.each<[string, number[], string]>([
    ['empty', [], 'the key is an empty BIT STRING'],
    ['eight unused bits', [0x08, 0x00], 'the key has a bad unused-bit count'],
    ['unused bits with no octet', [0x01], 'the key has a bad unused-bit count'],
    ['an unused bit set', [0x01, 0x01], 'the key has unused bits that are not zero'],
    ['the top unused bit set', [0x07, 0x40], 'the key has unused bits that are not zero'],
  ])('refuses %s', (_, content, message) => {
    expect(refusal(bits(...content))).toBe(message);
  });
});

describe('OBJECT IDENTIFIER', () => {
  it('decodes the first two arcs at their bounds', () => {
    expect(decodeOid(bytes(0x06, 0x01, 0x00))).toBe('0.0');
    expect(decodeOid(bytes(0x06, 0x01, 0x27))).toBe('0.39');
    expect(decodeOid(bytes(0x06, 0x01, 0x28))).toBe('1.0');
    expect(decodeOid(bytes(0x06, 0x01, 0x4f))).toBe('1.39');
    expect(decodeOid(bytes(0x06, 0x01, 0x50))).toBe('2.0');
    expect(decodeOid(bytes(0x06, 0x02, 0x88, 0x37))).toBe('2.999');
    expect(decodeOid(bytes(0x06, 0x03, 0x2a, 0x86, 0x48))).toBe('1.2.840');
  });

  it.each<[string, number[]]>([
    ['another tag', [0x04, 0x01, 0x2a]],
    ['no arcs', [0x06, 0x00]],
    ['a byte after it', [0x06, 0x01, 0x2a, 0x00]],
    ['a cut arc', [0x06, 0x02, 0x2a, 0x86]],
    ['a non-minimal arc', [0x06, 0x03, 0x2a, 0x80, 0x01]],
    ['a non-minimal first arc', [0x06, 0x02, 0x80, 0x2a]],
    ['a cut length', [0x06, 0x81]],
    ['an arc past 2^53', [0x06, 0x0a, 0x2a, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]],
  ])('gives undefined for %s', (_, content) => {
    expect(decodeOid(bytes(...content))).toBeUndefined();
  });

  it('reads arcs up to 2^46 and refuses larger ones', () => {
    // 2^46 - 1 in base 128: seven digits.
    const arc = (value: number): number[] => {
      const digits = [value % 128];
      for (let rest = Math.floor(value / 128); rest > 0; rest = Math.floor(rest / 128)) digits.unshift((rest % 128) | 0x80);
      return digits;
    };
    const big = 2 ** 46 - 1;
    expect(decodeOid(bytes(0x06, 1 + arc(big).length, 0x2a, ...arc(big)))).toBe(`1.2.${big}`);
    const bigger = 2 ** 53;
    expect(decodeOid(bytes(0x06, 1 + arc(bigger).length, 0x2a, ...arc(bigger)))).toBeUndefined();
  });

  it('oidAt names a value that is not one', () => {
    const [der, value] = at(bytes(0x06, 0x02, 0x2a, 0x80));
    expect(refusal(() => oidAt(der, value, 'curve'))).toBe('the curve is not a valid OBJECT IDENTIFIER');
    const inside = bytes(0x30, 0x03, 0x06, 0x01, 0x2a);
    expect(oidAt(inside, readTlv(inside, 2), 'curve')).toBe('1.2');
  });
});

describe('times', () => {
  const time = (tag: number, text: string) => {
    const [der, value] = at(tlv(tag, ascii(text)));
    return () => timeAt(der, value, 'notAfter');
  };
  const utc = (text: string) => time(TAG.utcTime, text);
  const generalized = (text: string) => time(TAG.generalizedTime, text);

  it('reads UTCTime years 1950-2049 and GeneralizedTime years as written', () => {
    expect(utc('491231235959Z')().toISOString()).toBe('2049-12-31T23:59:59.000Z');
    expect(utc('500101000000Z')().toISOString()).toBe('1950-01-01T00:00:00.000Z');
    expect(generalized('20500101000000Z')().toISOString()).toBe('2050-01-01T00:00:00.000Z');
    expect(generalized('19491231235959Z')().toISOString()).toBe('1949-12-31T23:59:59.000Z');
    expect(utc('240229120000Z')().toISOString()).toBe('2024-02-29T12:00:00.000Z');
  });

  it.each<[string, () => unknown, string]>([
    ['another tag', time(0x13, '250101000000Z'), 'the notAfter is not a UTCTime or GeneralizedTime'],
    ['a UTCTime of GeneralizedTime length', utc('20250101000000Z'), 'the notAfter is not in the form RFC 5280 requires (YYMMDDHHMMSSZ)'],
    ['a GeneralizedTime of UTCTime length', generalized('250101000000Z'), 'the notAfter is not in the form RFC 5280 requires (YYYYMMDDHHMMSSZ)'],
    ['no Z', utc('2501010000000'), 'the notAfter is not in the form RFC 5280 requires (YYMMDDHHMMSSZ)'],
    ['an offset instead of Z', generalized('202501010000+0'), 'the notAfter is not in the form RFC 5280 requires (YYYYMMDDHHMMSSZ)'],
    ['a letter among the digits', utc('2501010000a0Z'), 'the notAfter is not in the form RFC 5280 requires (YYMMDDHHMMSSZ)'],
    ['a sign among the digits', generalized('2025-101000000Z'), 'the notAfter is not in the form RFC 5280 requires (YYYYMMDDHHMMSSZ)'],
    ['month 13', utc('251301000000Z'), 'the notAfter is not a valid date'],
    ['month 0', utc('250001000000Z'), 'the notAfter is not a valid date'],
    ['April 31', utc('250431000000Z'), 'the notAfter is not a valid date'],
    ['February 29 of 2025', utc('250229000000Z'), 'the notAfter is not a valid date'],
    ['day 0', utc('250100000000Z'), 'the notAfter is not a valid date'],
    ['hour 24', utc('250101240000Z'), 'the notAfter is not a valid date'],
    ['minute 60', utc('250101006000Z'), 'the notAfter is not a valid date'],
    ['second 60', utc('250101000060Z'), 'the notAfter is not a valid date'],
    ['a GeneralizedTime year under 100, which Date.UTC reads as 19xx', generalized('00500101000000Z'), 'the notAfter is not a valid date'],
  ])('refuses %s', (_, read, message) => {
    expect(refusal(read)).toBe(message);
  });

  it('names a missing time', () => {
    expect(refusal(() => timeAt(bytes(), undefined, 'notBefore'))).toBe('the notBefore is missing');
  });
});

describe('strings', () => {
  const text = (tag: number, ...content: number[]) => {
    const [der, value] = at(tlv(tag, bytes(...content)));
    return () => stringAt(der, value, 'common name');
  };

  it('reads each string type', () => {
    expect(text(TAG.utf8String, 0xc3, 0xa9)()).toBe('é');
    expect(text(TAG.printableString, 0x41, 0x42)()).toBe('AB');
    expect(text(TAG.ia5String, 0x61)()).toBe('a');
    expect(text(TAG.teletexString, 0xe9)()).toBe('é');
    expect(text(TAG.bmpString, 0x00, 0xe9, 0x4e, 0x2d)()).toBe('é中');
    expect(text(TAG.universalString, 0x00, 0x01, 0xf6, 0x00, 0x00, 0x00, 0x00, 0x41)()).toBe('😀A');
    expect(text(TAG.universalString, 0x00, 0x10, 0xff, 0xff)()).toBe(String.fromCodePoint(0x10ffff));
  });

  it.each<[string, () => unknown, string]>([
    ['bad UTF-8', text(TAG.utf8String, 0xc3), 'the common name is not valid UTF-8'],
    ['a BMPString of odd length', text(TAG.bmpString, 0x00, 0x41, 0x00), 'the common name is a BMPString of odd length'],
    ['a UniversalString of bad length', text(TAG.universalString, 0x00, 0x00, 0x41), 'the common name is a UniversalString of bad length'],
    ['a UniversalString past Unicode', text(TAG.universalString, 0x00, 0x11, 0x00, 0x00), 'the common name holds a character beyond Unicode'],
    ['a UniversalString with the top bit set', text(TAG.universalString, 0x80, 0x00, 0x00, 0x41), 'the common name holds a character beyond Unicode'],
    ['an INTEGER', text(TAG.integer, 0x01), 'the common name is not a string type (tag 0x2)'],
  ])('refuses %s', (_, read, message) => {
    expect(refusal(read)).toBe(message);
  });
});

describe('PEM', () => {
  const B = PEM_CERTIFICATE_BEGIN;
  const E = PEM_CERTIFICATE_END;

  it('a BEGIN line inside a block is part of that block, not the start of another', () => {
    const text = `${B}\n${B}\n${E}\n`;
    expect(splitPemCertificates(text)).toEqual([`${B}\n${B}\n${E}`]);
    expect(splitPemCertificates(`${B}\nAAAA\n${E}\nx${B}\nBBBB\n${E}`)).toEqual([`${B}\nAAAA\n${E}`, `${B}\nBBBB\n${E}`]);
    // A BEGIN line whose closing dashes are the END line's opening ones: inside the block, so
    // the next block is looked for after the END line, not within its last 25 characters.
    const overlapping = `${B}\nAAAA\n${B.slice(0, -5)}${E}\n${B}\nBBBB\n${E}`;
    expect(splitPemCertificates(overlapping)).toEqual([`${B}\nAAAA\n${B.slice(0, -5)}${E}`, `${B}\nBBBB\n${E}`]);
  });

  it('a block needs both its lines', () => {
    expect(pemBlockDer(`${B}\nAAAA\n${E}`)).toEqual(bytes(0, 0, 0));
    expect(pemBlockDer(`${B}\nAAAA\n`)).toBeUndefined();
    // Long enough that what is between the lines, were the END line assumed, is base64.
    expect(pemBlockDer(`${B}AAAA${'A'.repeat(E.length)}`)).toBeUndefined();
    expect(pemBlockDer(`${'A'.repeat(B.length)}AAAA${E}`)).toBeUndefined();
    expect(pemBlockDer(`AAAA\n${E}`)).toBeUndefined();
    expect(pemBlockDer(`${B}\n \t\n${E}`)).toBeUndefined();
  });

  it('encodePem writes lines of 64 characters under the label given', () => {
    const pem = encodePem(new Uint8Array(100).fill(0xff), 'PUBLIC KEY');
    const lines = pem.trimEnd().split('\n');
    expect(lines[0]).toBe('-----BEGIN PUBLIC KEY-----');
    expect(lines.at(-1)).toBe('-----END PUBLIC KEY-----');
    expect(lines.slice(1, -1).map((line) => line.length)).toEqual([64, 64, 8]);
    expect(encodePem(bytes(1)).startsWith(`${B}\nAQ==\n${E}`)).toBe(true);
    expect(encodePem(bytes())).toBe(`${B}\n\n${E}\n`);
  });

  it('pemBeginLabel reads a whole BEGIN line only', () => {
    expect(pemBeginLabel('-----BEGIN EC PRIVATE KEY-----')).toBe('EC PRIVATE KEY');
    expect(pemBeginLabel('-----BEGIN X-----')).toBe('X');
    expect(pemBeginLabel('x-----BEGIN X-----')).toBeUndefined();
    expect(pemBeginLabel('-----BEGIN X-----x')).toBeUndefined();
    expect(pemBeginLabel('-----BEGIN -----')).toBeUndefined();
  });
});
