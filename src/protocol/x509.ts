/**
 * An X.509 certificate (RFC 5280 §4.1) read with der.ts: the fields the library uses, each with
 * the exact DER bytes where they are signed or compared. Narrow on purpose: it reads the one
 * Certificate structure, field by field, and refuses what does not fit it; extension values are
 * kept as bytes and read on demand (x509-extensions.ts). Pure: no I/O, runs anywhere.
 */
import {
  DerError,
  TAG,
  bitStringAt,
  booleanAt,
  bytesOf,
  childrenOf,
  contentOf,
  expectTag,
  integerAt,
  oidAt,
  readWhole,
  sameBytes,
  smallIntegerAt,
  stringAt,
  timeAt,
  type Tlv,
} from './der.js';

export interface AlgorithmIdentifier {
  readonly oid: string;
  /** The parameters' whole DER encoding; `undefined` when absent. */
  readonly parameters: Uint8Array | undefined;
}

export interface NameAttribute {
  readonly oid: string;
  /** The value as text; `undefined` when it is not a string type. */
  readonly value: string | undefined;
}

export interface X509Extension {
  readonly oid: string;
  readonly critical: boolean;
  /** The content of extnValue's OCTET STRING: the extension's own DER. */
  readonly value: Uint8Array;
}

export interface X509Certificate {
  readonly der: Uint8Array;
  /** 1, 2 or 3. */
  readonly version: number;
  /** The serial number's INTEGER content octets (two's complement). */
  readonly serialNumber: Uint8Array;
  /** The exact TBSCertificate bytes that were signed. */
  readonly tbs: Uint8Array;
  readonly signatureAlgorithm: AlgorithmIdentifier;
  /** Issuer and subject Name DER, compared byte for byte when chains are built. */
  readonly issuer: Uint8Array;
  readonly subject: Uint8Array;
  readonly issuerAttributes: readonly NameAttribute[];
  readonly subjectAttributes: readonly NameAttribute[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** The SubjectPublicKeyInfo DER (what a key pin is taken of). */
  readonly spki: Uint8Array;
  readonly publicKeyAlgorithm: AlgorithmIdentifier;
  /** The subjectPublicKey BIT STRING's octets (for an EC key, the point). */
  readonly publicKey: Uint8Array;
  readonly extensions: readonly X509Extension[];
  /** The signature BIT STRING's octets. */
  readonly signature: Uint8Array;
}

function algorithmAt(der: Uint8Array, tlv: Tlv | undefined, what: string): AlgorithmIdentifier {
  const sequence = expectTag(tlv, TAG.sequence, what);
  const [oid, parameters, extra] = childrenOf(der, sequence);
  if (extra !== undefined) throw new DerError(`the ${what} has more than an OID and parameters`);
  return { oid: oidAt(der, oid, `${what} OID`), parameters: parameters === undefined ? undefined : bytesOf(der, parameters) };
}

function nameAt(der: Uint8Array, tlv: Tlv | undefined, what: string): NameAttribute[] {
  const attributes: NameAttribute[] = [];
  for (const rdn of childrenOf(der, expectTag(tlv, TAG.sequence, what))) {
    const members = childrenOf(der, expectTag(rdn, TAG.set, `${what} relative distinguished name`));
    if (members.length === 0) throw new DerError(`the ${what} has an empty relative distinguished name`);
    for (const member of members) {
      const [type, value, extra] = childrenOf(der, expectTag(member, TAG.sequence, `${what} attribute`));
      if (value === undefined || extra !== undefined) throw new DerError(`the ${what} has an attribute that is not a type and a value`);
      let text: string | undefined;
      try {
        // Stryker disable next-line StringLiteral: the refusal this label would name is caught just below
        text = stringAt(der, value, `${what} attribute value`);
      } catch {
        // A value of another type is kept as unknown (`text` stays undefined), not refused.
      }
      attributes.push({ oid: oidAt(der, type, `${what} attribute type`), value: text });
    }
  }
  return attributes;
}

function extensionsAt(der: Uint8Array, tlv: Tlv): X509Extension[] {
  const [list, extra] = childrenOf(der, tlv);
  if (extra !== undefined) throw new DerError('the extensions field holds more than one SEQUENCE');
  const items = childrenOf(der, expectTag(list, TAG.sequence, 'extensions'));
  if (items.length === 0) throw new DerError('the extensions field is present but empty');
  const seen = new Set<string>();
  return items.map((item) => {
    const fields = childrenOf(der, expectTag(item, TAG.sequence, 'extension'));
    const oid = oidAt(der, fields[0], 'extension OID');
    if (seen.has(oid)) throw new DerError(`extension ${oid} appears twice`);
    seen.add(oid);
    let critical = false;
    let index = 1;
    if (fields[1]?.tag === TAG.boolean) {
      critical = booleanAt(der, fields[1], `extension ${oid} critical flag`);
      // DEFAULT FALSE: DER leaves the default out (X.690 §11.5).
      if (!critical) throw new DerError(`extension ${oid} encodes critical FALSE, which DER leaves out`);
      index = 2;
    }
    const value = expectTag(fields[index], TAG.octetString, `extension ${oid} value`);
    if (fields.length !== index + 1) throw new DerError(`extension ${oid} has extra fields`);
    return { oid, critical, value: contentOf(der, value) };
  });
}

/** Reads one DER certificate; a DerError saying what is wrong when it is not one. */
export function readX509(der: Uint8Array): X509Certificate {
  const outer = readWhole(der, TAG.sequence, 'certificate');
  const [tbsTlv, algorithmTlv, signatureTlv, extra] = childrenOf(der, outer);
  if (extra !== undefined) throw new DerError('the certificate SEQUENCE has more than three fields');
  const fields = childrenOf(der, expectTag(tbsTlv, TAG.sequence, 'TBSCertificate'));
  let at = 0;
  let version = 1;
  if (fields[0]?.tag === 0xa0) {
    const [versionTlv, more] = childrenOf(der, fields[0]);
    if (more !== undefined) throw new DerError('the version field holds more than one INTEGER');
    const value = smallIntegerAt(der, versionTlv, 'version');
    // v1 is the DEFAULT, which DER leaves out; there is no version after v3.
    if (value !== 1 && value !== 2) throw new DerError(`the version ${value} is not v2 or v3 (v1 is encoded by leaving it out)`);
    version = value + 1;
    at = 1;
  }
  const serialNumber = integerAt(der, fields[at], 'serial number');
  const innerAlgorithm = expectTag(fields[at + 1], TAG.sequence, 'TBSCertificate signature algorithm');
  const signatureAlgorithm = algorithmAt(der, algorithmTlv, 'signature algorithm');
  if (!sameBytes(bytesOf(der, innerAlgorithm), bytesOf(der, algorithmTlv))) {
    throw new DerError('its two signature algorithm fields differ');
  }
  const validity = childrenOf(der, expectTag(fields[at + 3], TAG.sequence, 'validity'));
  if (validity.length !== 2) throw new DerError('the validity is not two times');
  const spkiTlv = expectTag(fields[at + 5], TAG.sequence, 'SubjectPublicKeyInfo');
  const [keyAlgorithmTlv, keyTlv, keyExtra] = childrenOf(der, spkiTlv);
  if (keyExtra !== undefined) throw new DerError('the SubjectPublicKeyInfo has extra fields');
  const key = bitStringAt(der, keyTlv, 'subject public key');
  if (key.unusedBits !== 0) throw new DerError('the subject public key is not whole octets');

  let extensions: X509Extension[] = [];
  let lastTag = 0;
  // [1] issuerUniqueID and [2] subjectUniqueID (IMPLICIT BIT STRING, v2 and v3), then [3] extensions (v3).
  const optional: Readonly<Record<number, number>> = { 0x81: 2, 0x82: 2, 0xa3: 3 };
  for (const field of fields.slice(at + 6)) {
    const minimumVersion = optional[field.tag];
    if (minimumVersion === undefined || version < minimumVersion || field.tag <= lastTag) {
      throw new DerError(`unexpected field (tag 0x${field.tag.toString(16)}) after the SubjectPublicKeyInfo`);
    }
    lastTag = field.tag;
    if (field.tag === 0xa3) extensions = extensionsAt(der, field);
  }
  const signature = bitStringAt(der, signatureTlv, 'signature');
  if (signature.unusedBits !== 0) throw new DerError('the signature is not whole octets');
  return {
    der: der.slice(),
    version,
    serialNumber,
    tbs: bytesOf(der, tbsTlv),
    signatureAlgorithm,
    issuer: bytesOf(der, expectTag(fields[at + 2], TAG.sequence, 'issuer')),
    subject: bytesOf(der, expectTag(fields[at + 4], TAG.sequence, 'subject')),
    issuerAttributes: nameAt(der, fields[at + 2], 'issuer'),
    subjectAttributes: nameAt(der, fields[at + 4], 'subject'),
    notBefore: timeAt(der, validity[0], 'notBefore time'),
    notAfter: timeAt(der, validity[1], 'notAfter time'),
    spki: bytesOf(der, spkiTlv),
    publicKeyAlgorithm: algorithmAt(der, keyAlgorithmTlv, 'public key algorithm'),
    publicKey: key.bytes,
    extensions,
    signature: signature.bytes,
  };
}
