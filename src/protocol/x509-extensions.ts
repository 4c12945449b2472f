/**
 * The certificate extensions the library acts on (RFC 5280 §4.2.1), read from the value bytes
 * x509.ts keeps: basicConstraints, keyUsage and the DNS names of subjectAltName. Pure.
 */
import { DerError, TAG, bitStringAt, booleanAt, childrenOf, readWhole, smallIntegerAt, stringAt } from './der.js';
import type { X509Certificate, X509Extension } from './x509.js';

export const EXTENSION_OID = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  nameConstraints: '2.5.29.30',
  certificatePolicies: '2.5.29.32',
  policyMappings: '2.5.29.33',
  authorityKeyIdentifier: '2.5.29.35',
  policyConstraints: '2.5.29.36',
  extKeyUsage: '2.5.29.37',
  inhibitAnyPolicy: '2.5.29.54',
} as const;

/** KeyUsage bits as numbers: bit n of the BIT STRING (n = 0 first) is `1 << n`. */
export const KEY_USAGE = {
  digitalSignature: 1,
  nonRepudiation: 2,
  keyEncipherment: 4,
  dataEncipherment: 8,
  keyAgreement: 16,
  keyCertSign: 32,
  cRLSign: 64,
  encipherOnly: 128,
  decipherOnly: 256,
} as const;

export interface BasicConstraints {
  readonly ca: boolean;
  readonly pathLength: number | undefined;
}

export function findExtension(certificate: X509Certificate, oid: string): X509Extension | undefined {
  return certificate.extensions.find((extension) => extension.oid === oid);
}

/** `SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER (0..MAX) OPTIONAL }`. */
export function readBasicConstraints(value: Uint8Array): BasicConstraints {
  const fields = childrenOf(value, readWhole(value, TAG.sequence, 'basicConstraints'));
  let index = 0;
  let ca = false;
  if (fields[0]?.tag === TAG.boolean) {
    ca = booleanAt(value, fields[0], 'basicConstraints cA');
    if (!ca) throw new DerError('basicConstraints encodes cA FALSE, which DER leaves out');
    index = 1;
  }
  const pathLength = fields[index] === undefined ? undefined : smallIntegerAt(value, fields[index], 'pathLenConstraint');
  // Stryker disable next-line ConditionalExpression: without a path length nothing follows `index`, so 0 and 1 agree
  if (fields.length > index + (pathLength === undefined ? 0 : 1)) throw new DerError('basicConstraints has extra fields');
  return { ca, pathLength };
}

/**
 * `KeyUsage ::= BIT STRING` as KEY_USAGE bits. Trailing zero bits are accepted although DER's
 * named-bit rule drops them: several certificate tools write them, and they mean nothing.
 */
export function readKeyUsage(value: Uint8Array): number {
  const { bytes } = bitStringAt(value, readWhole(value, TAG.bitString, 'keyUsage'), 'keyUsage');
  if (bytes.length > 2) throw new DerError('keyUsage has more than the nine defined bits');
  let usage = 0;
  // Stryker disable next-line EqualityOperator: one bit past the end reads `?? 0`, a bit not set
  for (let bit = 0; bit < bytes.length * 8; bit++) {
    if (((bytes[bit >> 3] ?? 0) & (0x80 >> (bit & 7))) !== 0) {
      if (bit > 8) throw new DerError('keyUsage has a bit beyond decipherOnly');
      usage |= 1 << bit;
    }
  }
  return usage;
}

/** Names of the bits set in `usage`, as `[keyCertSign, cRLSign]`. */
export function describeKeyUsage(usage: number): string {
  return `[${Object.entries(KEY_USAGE)
    .filter(([, bit]) => (usage & bit) !== 0)
    .map(([name]) => name)
    .join(', ')}]`;
}

const DNS_NAME = 0x82; // GeneralName [2] IMPLICIT IA5String

/**
 * The dNSName entries of a subjectAltName value, in order. Other kinds of GeneralName are
 * skipped; an empty list is accepted (RFC 5280 says SIZE (1..MAX), but it only means no names).
 */
export function readSanDnsNames(value: Uint8Array): string[] {
  const names: string[] = [];
  for (const name of childrenOf(value, readWhole(value, TAG.sequence, 'subjectAltName'))) {
    // Stryker disable next-line StringLiteral: stringAt refuses no IA5String, so this label is never in a message
    if (name.tag === DNS_NAME) names.push(stringAt(value, { ...name, tag: TAG.ia5String }, 'subjectAltName dNSName'));
  }
  return names;
}
