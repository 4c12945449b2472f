/**
 * A few DER encoders for tests that need certificates a certificate tool will not make: a field
 * left out, doubled, in the wrong order or of the wrong type. `certificateDer` assembles one from
 * named parts, each replaceable. Nothing is signed: the readers under test parse, they do not
 * verify.
 */

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Tag, minimal length, content. */
export function tlv(tag: number, ...content: Uint8Array[]): Uint8Array {
  const body = concat(content);
  const n = body.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return concat([Uint8Array.of(tag, ...length), body]);
}

export const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);
export const ascii = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0));

export const seq = (...content: Uint8Array[]): Uint8Array => tlv(0x30, ...content);
export const set = (...content: Uint8Array[]): Uint8Array => tlv(0x31, ...content);
export const explicit = (n: number, ...content: Uint8Array[]): Uint8Array => tlv(0xa0 | n, ...content);
export const bool = (value: boolean): Uint8Array => tlv(0x01, bytes(value ? 0xff : 0));
export const octets = (...content: Uint8Array[]): Uint8Array => tlv(0x04, ...content);
export const utf8 = (text: string): Uint8Array => tlv(0x0c, new TextEncoder().encode(text));
export const utcTime = (text: string): Uint8Array => tlv(0x17, ascii(text));
export const bitString = (content: Uint8Array, unusedBits = 0): Uint8Array => tlv(0x03, bytes(unusedBits), content);

/** A non-negative INTEGER, minimal. */
export function integer(value: number): Uint8Array {
  const out: number[] = [];
  let rest = value;
  do {
    out.unshift(rest & 0xff);
    rest = Math.floor(rest / 256);
  } while (rest > 0);
  if ((out[0]! & 0x80) !== 0) out.unshift(0);
  return tlv(0x02, Uint8Array.from(out));
}

export function oid(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map(Number);
  const out: number[] = [];
  const base128 = (arc: number): void => {
    const digits = [arc & 0x7f];
    for (let rest = Math.floor(arc / 128); rest > 0; rest = Math.floor(rest / 128)) digits.unshift((rest & 0x7f) | 0x80);
    out.push(...digits);
  };
  base128(arcs[0]! * 40 + arcs[1]!);
  for (const arc of arcs.slice(2)) base128(arc);
  return tlv(0x06, Uint8Array.from(out));
}

export const OID = {
  ecPublicKey: '1.2.840.10045.2.1',
  prime256v1: '1.2.840.10045.3.1.7',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
} as const;

export const extension = (id: string, value: Uint8Array, critical?: Uint8Array): Uint8Array =>
  critical === undefined ? seq(oid(id), octets(value)) : seq(oid(id), critical, octets(value));

export const name = (commonName: string): Uint8Array => seq(set(seq(oid(OID.commonName), utf8(commonName))));

/** A dNSName list, as a subjectAltName value. */
export const sanValue = (...dnsNames: string[]): Uint8Array => seq(...dnsNames.map((dns) => tlv(0x82, ascii(dns))));

export interface CertificateParts {
  /** `[0] { INTEGER 2 }` (v3); `undefined` leaves it out (v1). */
  version: Uint8Array | undefined;
  serial: Uint8Array;
  innerAlgorithm: Uint8Array;
  issuer: Uint8Array;
  validity: Uint8Array;
  subject: Uint8Array;
  spki: Uint8Array;
  /** What follows the SubjectPublicKeyInfo: unique ids, `[3]` extensions. */
  after: Uint8Array[];
  outerAlgorithm: Uint8Array;
  signature: Uint8Array;
  /** Fields after the signature (none in a certificate). */
  trailing: Uint8Array[];
}

export function spkiOf(point: Uint8Array, curve: string = OID.prime256v1, algorithm: string = OID.ecPublicKey): Uint8Array {
  return seq(seq(oid(algorithm), oid(curve)), bitString(point));
}

export function defaultParts(point: Uint8Array): CertificateParts {
  const algorithm = seq(oid(OID.ecdsaWithSha256));
  return {
    version: explicit(0, integer(2)),
    serial: integer(4660),
    innerAlgorithm: algorithm,
    issuer: name('issuer'),
    validity: seq(utcTime('250101000000Z'), utcTime('350101000000Z')),
    subject: name('model'),
    spki: spkiOf(point),
    after: [explicit(3, seq(extension(OID.subjectAltName, sanValue('ring.r1', 'key.k1'))))],
    outerAlgorithm: algorithm,
    signature: bitString(bytes(1, 2, 3)),
    trailing: [],
  };
}

export function certificateDer(point: Uint8Array, overrides: Partial<CertificateParts> = {}): Uint8Array {
  const p = { ...defaultParts(point), ...overrides };
  const tbs = seq(...(p.version === undefined ? [] : [p.version]), p.serial, p.innerAlgorithm, p.issuer, p.validity, p.subject, p.spki, ...p.after);
  return seq(tbs, p.outerAlgorithm, p.signature, ...p.trailing);
}
