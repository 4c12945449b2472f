/**
 * The few DER reads the certificate code needs beyond what @peculiar/asn1-x509 gives: the exact
 * bytes of a field (what was signed, the names compared byte for byte, the key a pin is taken
 * of), read strictly (minimal lengths, nothing past the end), an OBJECT IDENTIFIER, and an ECDSA
 * signature's r and s. Pure: no I/O, runs anywhere.
 */

export interface Tlv {
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  /** Offset of the first content byte. */
  contentStart: number;
  /** Offset after the last content byte. */
  end: number;
}

export class DerError extends Error {}

export function readTlv(der: Uint8Array, offset: number, limit = der.length): Tlv {
  if (offset + 2 > limit) throw new DerError('truncated');
  const tag = der[offset] ?? 0;
  if ((tag & 0x1f) === 0x1f) throw new DerError('high tag numbers are not used in certificates');
  const first = der[offset + 1] ?? 0;
  let length = first;
  let header = 2;
  if (first >= 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 4) throw new DerError('bad length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (der[offset + 2 + i] ?? 0);
    header += count;
    if (length < 0x80 || (count > 1 && (der[offset + 2] ?? 0) === 0)) throw new DerError('non-minimal length');
  }
  const end = offset + header + length;
  if (end > limit) throw new DerError('truncated');
  return { tag, start: offset, contentStart: offset + header, end };
}

export function childrenOf(der: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let offset = parent.contentStart; offset < parent.end; ) {
    const child = readTlv(der, offset, parent.end);
    out.push(child);
    offset = child.end;
  }
  return out;
}

export function bytesOf(der: Uint8Array, tlv: Tlv | undefined): Uint8Array {
  if (tlv === undefined) throw new DerError('missing field');
  return der.slice(tlv.start, tlv.end);
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A DER ECDSA-Sig-Value `SEQUENCE { r INTEGER, s INTEGER }` → `r || s` of `size` bytes each. */
export function ecdsaRawSignature(der: Uint8Array, size: number): Uint8Array | undefined {
  try {
    const sequence = readTlv(der, 0);
    if (sequence.tag !== 0x30 || sequence.end !== der.length) return undefined;
    const parts = childrenOf(der, sequence);
    if (parts.length !== 2) return undefined;
    const out = new Uint8Array(size * 2);
    for (const [index, part] of parts.entries()) {
      if (part.tag !== 0x02) return undefined;
      let value = der.subarray(part.contentStart, part.end);
      if (value.length === 0 || ((value[0] ?? 0) & 0x80) !== 0) return undefined; // negative
      while (value.length > 1 && value[0] === 0) value = value.subarray(1);
      if (value.length > size) return undefined;
      out.set(value, index * size + size - value.length);
    }
    return out;
  } catch {
    return undefined;
  }
}

/** `06 len arcs` → dotted OID; `undefined` when the bytes are not one OBJECT IDENTIFIER. */
export function decodeOid(der: Uint8Array): string | undefined {
  if (der.length < 3 || der[0] !== 0x06 || der[1] !== der.length - 2 || (der[1] ?? 0) >= 0x80) return undefined;
  const arcs: number[] = [];
  let value = 0;
  for (let i = 2; i < der.length; i++) {
    const byte = der[i] ?? 0;
    if (value === 0 && byte === 0x80) return undefined; // non-minimal encoding
    value = value * 128 + (byte & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 128) return undefined;
    if ((byte & 0x80) === 0) {
      if (arcs.length === 0) arcs.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      else arcs.push(value);
      value = 0;
    } else if (i === der.length - 1) {
      return undefined;
    }
  }
  return arcs.join('.');
}
