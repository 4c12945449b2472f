/**
 * The DER reads the certificate code needs (X.690 §8 and §10), and only those: a TLV with a
 * minimal definite length, the children of a constructed value, and the few primitive types an
 * X.509 certificate uses (INTEGER, BOOLEAN, BIT STRING, OBJECT IDENTIFIER, UTCTime and
 * GeneralizedTime, the string types of names). Strict: anything that is not the one DER encoding
 * of its value is refused with a DerError. This is the only OBJECT IDENTIFIER decoder of the
 * library. Pure: no I/O, runs anywhere.
 */
import { InvalidCertificateError } from '../errors.js';

export interface Tlv {
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  /** Offset of the first content byte. */
  contentStart: number;
  /** Offset after the last content byte. */
  end: number;
}

/** DER that is malformed or not what a certificate holds there; the message says what. */
export class DerError extends InvalidCertificateError {}

export const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  teletexString: 0x14,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  universalString: 0x1c,
  bmpString: 0x1e,
  sequence: 0x30,
  set: 0x31,
} as const;

export function readTlv(der: Uint8Array, offset: number, limit = der.length): Tlv {
  // Stryker disable next-line ConditionalExpression,ArithmeticOperator,EqualityOperator: under two bytes always ends past the limit, which the last check refuses the same way
  if (offset + 2 > limit) throw new DerError('truncated');
  const tag = der[offset] ?? 0;
  if ((tag & 0x1f) === 0x1f) throw new DerError('high tag numbers are not used in certificates');
  const first = der[offset + 1] ?? 0;
  let length = first;
  let header = 2;
  if (first >= 0x80) {
    const count = first & 0x7f;
    if (count === 0) throw new DerError('indefinite length (BER, not DER)');
    if (count > 4) throw new DerError('bad length');
    // Stryker disable next-line EqualityOperator: length octets that end at the limit leave no room for the ≥ 0x80 content bytes, refused the same way below
    if (offset + 2 + count > limit) throw new DerError('truncated');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (der[offset + 2 + i] ?? 0);
    header += count;
    // A first length octet of 0 is a leading zero (with one octet, it is a length < 0x80 too).
    if (length < 0x80 || der[offset + 2] === 0) throw new DerError('non-minimal length');
  }
  const end = offset + header + length;
  if (end > limit) throw new DerError('truncated');
  return { tag, start: offset, contentStart: offset + header, end };
}

/** `der` as exactly one TLV of `tag`: nothing missing, nothing after it. */
export function readWhole(der: Uint8Array, tag: number, what: string): Tlv {
  const tlv = readTlv(der, 0);
  expectTag(tlv, tag, what);
  if (tlv.end !== der.length) throw new DerError(`${der.length - tlv.end} stray bytes after the ${what}`);
  return tlv;
}

export function expectTag(tlv: Tlv | undefined, tag: number, what: string): Tlv {
  if (tlv === undefined) throw new DerError(`the ${what} is missing`);
  if (tlv.tag !== tag) throw new DerError(`the ${what} has tag 0x${tlv.tag.toString(16)}, expected 0x${tag.toString(16)}`);
  return tlv;
}

export function childrenOf(der: Uint8Array, parent: Tlv): Tlv[] {
  if ((parent.tag & 0x20) === 0) throw new DerError('a primitive value where a constructed one belongs');
  const out: Tlv[] = [];
  for (let offset = parent.contentStart; offset < parent.end; ) {
    const child = readTlv(der, offset, parent.end);
    out.push(child);
    offset = child.end;
  }
  return out;
}

/** The whole encoding (tag, length and content) of `tlv`, copied. */
export function bytesOf(der: Uint8Array, tlv: Tlv | undefined): Uint8Array {
  if (tlv === undefined) throw new DerError('missing field');
  return der.slice(tlv.start, tlv.end);
}

export function contentOf(der: Uint8Array, tlv: Tlv): Uint8Array {
  return der.slice(tlv.contentStart, tlv.end);
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  // Stryker disable next-line EqualityOperator: one index past the end reads undefined on both sides
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** An INTEGER's content octets (two's complement), refused unless minimal (X.690 §8.3.2). */
export function integerAt(der: Uint8Array, tlv: Tlv | undefined, what: string): Uint8Array {
  const { contentStart, end } = expectTag(tlv, TAG.integer, what);
  if (end === contentStart) throw new DerError(`the ${what} is an empty INTEGER`);
  const first = der[contentStart] ?? 0;
  const second = der[contentStart + 1] ?? 0;
  if (end - contentStart > 1 && ((first === 0 && second < 0x80) || (first === 0xff && second >= 0x80))) {
    throw new DerError(`the ${what} is a non-minimal INTEGER`);
  }
  return der.slice(contentStart, end);
}

/** A non-negative INTEGER that fits in 31 bits (versions, path lengths). */
export function smallIntegerAt(der: Uint8Array, tlv: Tlv | undefined, what: string): number {
  const bytes = integerAt(der, tlv, what);
  if (((bytes[0] ?? 0) & 0x80) !== 0) throw new DerError(`the ${what} is negative`);
  // integerAt took the minimal encoding only, so five octets or more is 2^31 or more: refused below.
  let value = 0;
  for (const byte of bytes) value = value * 256 + byte;
  if (value > 0x7fffffff) throw new DerError(`the ${what} is too large`);
  return value;
}

/** A BOOLEAN: one octet, 0x00 or 0xFF (X.690 §11.1). */
export function booleanAt(der: Uint8Array, tlv: Tlv | undefined, what: string): boolean {
  const { contentStart, end } = expectTag(tlv, TAG.boolean, what);
  const value = der[contentStart];
  if (end - contentStart !== 1 || (value !== 0 && value !== 0xff)) throw new DerError(`the ${what} is not a DER BOOLEAN`);
  return value === 0xff;
}

/** A BIT STRING's unused-bit count and data octets; the unused bits must be zero (X.690 §11.2.1). */
export function bitStringAt(der: Uint8Array, tlv: Tlv | undefined, what: string): { unusedBits: number; bytes: Uint8Array } {
  const { contentStart, end } = expectTag(tlv, TAG.bitString, what);
  if (end === contentStart) throw new DerError(`the ${what} is an empty BIT STRING`);
  const unusedBits = der[contentStart] ?? 0;
  const bytes = der.slice(contentStart + 1, end);
  if (unusedBits > 7 || (bytes.length === 0 && unusedBits !== 0)) throw new DerError(`the ${what} has a bad unused-bit count`);
  if (((bytes[bytes.length - 1] ?? 0) & ((1 << unusedBits) - 1)) !== 0) {
    throw new DerError(`the ${what} has unused bits that are not zero`);
  }
  return { unusedBits, bytes };
}

/** `06 len arcs` → dotted OID; `undefined` when the bytes are not one OBJECT IDENTIFIER. */
export function decodeOid(der: Uint8Array): string | undefined {
  let tlv: Tlv;
  try {
    tlv = readTlv(der, 0);
  } catch {
    return undefined;
  }
  if (tlv.tag !== TAG.oid || tlv.end !== der.length || tlv.contentStart === tlv.end) return undefined;
  const arcs: number[] = [];
  let value = 0;
  for (let i = tlv.contentStart; i < der.length; i++) {
    const byte = der[i] ?? 0;
    if (value === 0 && byte === 0x80) return undefined; // non-minimal encoding
    value = value * 128 + (byte & 0x7f);
    // Stryker disable next-line EqualityOperator: MAX_SAFE_INTEGER / 128 is not a whole number, so > and >= agree
    if (value > Number.MAX_SAFE_INTEGER / 128) return undefined;
    if ((byte & 0x80) === 0) {
      // Stryker disable next-line EqualityOperator: at 80 both forms give 2.0
      if (arcs.length === 0) arcs.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      else arcs.push(value);
      value = 0;
    } else if (i === der.length - 1) {
      return undefined;
    }
  }
  return arcs.join('.');
}

/** The OBJECT IDENTIFIER at `tlv`, dotted; a DerError when it is not one. */
export function oidAt(der: Uint8Array, tlv: Tlv | undefined, what: string): string {
  const { start, end } = expectTag(tlv, TAG.oid, what);
  const oid = decodeOid(der.subarray(start, end));
  if (oid === undefined) throw new DerError(`the ${what} is not a valid OBJECT IDENTIFIER`);
  return oid;
}

const DIGITS = /^[0-9]+$/;

/**
 * UTCTime `YYMMDDHHMMSSZ` (years 1950-2049) or GeneralizedTime `YYYYMMDDHHMMSSZ`, the only forms
 * RFC 5280 §4.1.2.5 allows, as a Date.
 */
export function timeAt(der: Uint8Array, tlv: Tlv | undefined, what: string): Date {
  if (tlv === undefined) throw new DerError(`the ${what} is missing`);
  const utc = tlv.tag === TAG.utcTime;
  if (!utc && tlv.tag !== TAG.generalizedTime) throw new DerError(`the ${what} is not a UTCTime or GeneralizedTime`);
  const length = tlv.end - tlv.contentStart;
  if (length !== (utc ? 13 : 15)) {
    throw new DerError(`the ${what} is not in the form RFC 5280 requires (${utc ? 'YYMMDDHHMMSSZ' : 'YYYYMMDDHHMMSSZ'})`);
  }
  const text = String.fromCharCode(...der.subarray(tlv.contentStart, tlv.end));
  const digits = text.slice(0, -1);
  if (!text.endsWith('Z') || !DIGITS.test(digits)) {
    throw new DerError(`the ${what} is not in the form RFC 5280 requires (${utc ? 'YYMMDDHHMMSSZ' : 'YYYYMMDDHHMMSSZ'})`);
  }
  // Stryker disable next-line ArrayDeclaration: 10 or 11 digits always give pairs, never null
  const pairs = digits.slice(utc ? 2 : 4).match(/../g) ?? [];
  const rawYear = Number(digits.slice(0, utc ? 2 : 4));
  const written = [utc ? (rawYear < 50 ? 2000 + rawYear : 1900 + rawYear) : rawYear, ...pairs.map(Number)];
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0] = written;
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  // Date.UTC rolls over (month 13, day 31 of April, hour 24) and reads years 0-99 as 1900-1999:
  // a date whose fields are not the ones written is not the date written.
  const read = [date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate(), date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds()];
  if (read.some((value, index) => value !== written[index])) throw new DerError(`the ${what} is not a valid date`);
  return date;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A directory string or IA5String as text, for messages and SAN names; a DerError when undecodable. */
export function stringAt(der: Uint8Array, tlv: Tlv, what: string): string {
  const bytes = der.subarray(tlv.contentStart, tlv.end);
  switch (tlv.tag) {
    case TAG.utf8String:
      try {
        return utf8.decode(bytes);
      } catch {
        throw new DerError(`the ${what} is not valid UTF-8`);
      }
    case TAG.printableString:
    case TAG.ia5String:
    case TAG.teletexString: {
      // One character per octet; a loop, not a spread, so that a long value cannot overflow the stack.
      let text = '';
      for (const byte of bytes) text += String.fromCharCode(byte);
      return text;
    }
    case TAG.bmpString: {
      if (bytes.length % 2 !== 0) throw new DerError(`the ${what} is a BMPString of odd length`);
      let text = '';
      for (let i = 0; i < bytes.length; i += 2) text += String.fromCharCode(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
      return text;
    }
    case TAG.universalString: {
      if (bytes.length % 4 !== 0) throw new DerError(`the ${what} is a UniversalString of bad length`);
      let text = '';
      for (let i = 0; i < bytes.length; i += 4) {
        const point = (((bytes[i] ?? 0) << 24) | ((bytes[i + 1] ?? 0) << 16) | ((bytes[i + 2] ?? 0) << 8) | (bytes[i + 3] ?? 0)) >>> 0;
        if (point > 0x10ffff) throw new DerError(`the ${what} holds a character beyond Unicode`);
        text += String.fromCodePoint(point);
      }
      return text;
    }
    default:
      throw new DerError(`the ${what} is not a string type (tag 0x${tlv.tag.toString(16)})`);
  }
}
