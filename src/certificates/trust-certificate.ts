/**
 * One certificate as the trust checks see it (trust.ts): read from a PEM block with
 * @peculiar/asn1-x509 plus the exact DER bytes of the fields that are signed or compared, and the
 * checks that concern one certificate alone (validity, CA constraints, key usage, critical
 * extensions). Runtime-neutral.
 */
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  type AlgorithmIdentifier,
  BasicConstraints,
  Certificate,
  KeyUsage,
  KeyUsageFlags,
  type Name,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_certificatePolicies,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  type Time,
} from '@peculiar/asn1-x509';

import { decodeBase64, encodeBase64 } from '../crypto/base64.js';
import { DerError, bytesOf, childrenOf, readTlv, sameBytes } from '../protocol/der.js';

const PEM_BEGIN = '-----BEGIN CERTIFICATE-----';
const PEM_END = '-----END CERTIFICATE-----';

/** Critical extensions whose meaning is honoured (or harmless to accept) here. */
const KNOWN_CRITICAL = new Set<string>([
  id_ce_basicConstraints,
  id_ce_keyUsage,
  id_ce_extKeyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  id_ce_authorityKeyIdentifier,
  id_ce_certificatePolicies,
]);

const EXTENSION_NAMES: Readonly<Record<string, string>> = {
  '2.5.29.30': 'nameConstraints',
  '2.5.29.33': 'policyMappings',
  '2.5.29.36': 'policyConstraints',
  '2.5.29.54': 'inhibitAnyPolicy',
};

const ATTRIBUTE_NAMES: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '1.2.840.113549.1.9.1': 'emailAddress',
  '0.9.2342.19200300.100.1.25': 'DC',
};

export interface TrustCertificate {
  readonly der: Uint8Array;
  /** The exact TBSCertificate bytes that were signed. */
  readonly tbs: Uint8Array;
  readonly issuer: Uint8Array;
  readonly subject: Uint8Array;
  readonly spki: Uint8Array;
  /** The SPKI as a map key: one per issuer key, for the signature-check memo. */
  readonly keyId: string;
  /** Subject and key together (RFC 4158 loop detection): one CA, however many certificates. */
  readonly identity: string;
  readonly signature: Uint8Array;
  readonly signatureAlgorithm: AlgorithmIdentifier;
  readonly keyAlgorithm: AlgorithmIdentifier;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Subject as `CN=…, O=…`, for messages. */
  readonly name: string;
  readonly issuerName: string;
  readonly basicConstraints: BasicConstraints | undefined;
  /** KeyUsageFlags bits; `undefined` without the extension. */
  readonly keyUsage: number | undefined;
  /** The first critical extension not understood here, by name or OID. */
  readonly unknownCritical: string | undefined;
}

/**
 * Every CERTIFICATE block of a PEM text, each as its own PEM text, in order. A linear scan: a
 * hostile text of many BEGIN lines without END costs one pass, not one pass per BEGIN.
 */
export function splitPemCertificates(text: string): string[] {
  const blocks: string[] = [];
  for (let begin = text.indexOf(PEM_BEGIN); begin >= 0; ) {
    const end = text.indexOf(PEM_END, begin + PEM_BEGIN.length);
    if (end < 0) break; // no END after this BEGIN, hence none after any later one either
    blocks.push(text.slice(begin, end + PEM_END.length));
    begin = text.indexOf(PEM_BEGIN, end + PEM_END.length);
  }
  return blocks;
}

function describeName(name: Name): string {
  const parts: string[] = [];
  for (const rdn of name) {
    for (const attribute of rdn) {
      const type = ATTRIBUTE_NAMES[attribute.type] ?? attribute.type;
      parts.push(`${type}=${attribute.value.toString()}`);
    }
  }
  return parts.length === 0 ? '(empty name)' : parts.join(', ');
}

function dateOf(time: Time): Date {
  const date = time.utcTime ?? time.generalTime;
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) throw new DerError('bad validity time');
  return date;
}

export function readCertificate(pemBlock: string): TrustCertificate {
  const body = pemBlock.slice(PEM_BEGIN.length, pemBlock.length - PEM_END.length).replace(/\s+/g, '');
  const der = decodeBase64(body);
  if (der === undefined || der.length === 0) throw new DerError('the PEM body is not valid base64');
  const outer = readTlv(der, 0);
  if (outer.tag !== 0x30 || outer.end !== der.length) throw new DerError('not one DER SEQUENCE');
  const [tbsTlv, innerAlgorithmTlv, signatureTlv, extra] = childrenOf(der, outer);
  if (tbsTlv === undefined || innerAlgorithmTlv === undefined || signatureTlv === undefined || extra !== undefined) {
    throw new DerError('not a Certificate SEQUENCE of three');
  }
  const fields = childrenOf(der, tbsTlv);
  const at = fields[0]?.tag === 0xa0 ? 1 : 0; // [0] version
  const tbsAlgorithm = bytesOf(der, fields[at + 1]);
  if (!sameBytes(tbsAlgorithm, bytesOf(der, innerAlgorithmTlv))) {
    throw new DerError('its two signature algorithm fields differ');
  }
  if (signatureTlv.tag !== 0x03 || der[signatureTlv.contentStart] !== 0) throw new DerError('bad signature BIT STRING');

  const parsed = AsnConvert.parse(der.slice().buffer, Certificate);
  const tbs = parsed.tbsCertificate;
  let basicConstraints: BasicConstraints | undefined;
  let keyUsage: number | undefined;
  let unknownCritical: string | undefined;
  const seen = new Set<string>();
  for (const extension of tbs.extensions ?? []) {
    if (seen.has(extension.extnID)) throw new DerError(`extension ${extension.extnID} appears twice`);
    seen.add(extension.extnID);
    if (extension.extnID === id_ce_basicConstraints) {
      basicConstraints = AsnConvert.parse(extension.extnValue.buffer, BasicConstraints);
    } else if (extension.extnID === id_ce_keyUsage) {
      keyUsage = AsnConvert.parse(extension.extnValue.buffer, KeyUsage).toNumber();
    }
    if (extension.critical && !KNOWN_CRITICAL.has(extension.extnID) && unknownCritical === undefined) {
      const known = EXTENSION_NAMES[extension.extnID];
      unknownCritical = known === undefined ? `OID ${extension.extnID}` : `${known} (OID ${extension.extnID})`;
    }
  }
  const subject = bytesOf(der, fields[at + 4]);
  const spki = bytesOf(der, fields[at + 5]);
  const keyId = encodeBase64(spki);
  return {
    der,
    tbs: bytesOf(der, tbsTlv),
    issuer: bytesOf(der, fields[at + 2]),
    subject,
    spki,
    keyId,
    identity: `${encodeBase64(subject)} ${keyId}`,
    signature: der.slice(signatureTlv.contentStart + 1, signatureTlv.end),
    signatureAlgorithm: parsed.signatureAlgorithm,
    keyAlgorithm: tbs.subjectPublicKeyInfo.algorithm,
    notBefore: dateOf(tbs.validity.notBefore),
    notAfter: dateOf(tbs.validity.notAfter),
    name: describeName(tbs.subject),
    issuerName: describeName(tbs.issuer),
    basicConstraints,
    keyUsage,
    unknownCritical,
  };
}

export function validityProblem(certificate: TrustCertificate, nowMs: number): string | undefined {
  if (nowMs < certificate.notBefore.getTime()) {
    return `"${certificate.name}" is not valid yet (valid from ${certificate.notBefore.toISOString()})`;
  }
  if (nowMs > certificate.notAfter.getTime()) {
    return `"${certificate.name}" expired on ${certificate.notAfter.toISOString()}`;
  }
  return undefined;
}

/** Leaf key usage: absent, or naming keyAgreement (ECDH) or digitalSignature. */
export function leafUsageProblem(leaf: TrustCertificate): string | undefined {
  if (leaf.keyUsage === undefined) return undefined;
  if ((leaf.keyUsage & (KeyUsageFlags.keyAgreement | KeyUsageFlags.digitalSignature)) !== 0) return undefined;
  return (
    `the model certificate's keyUsage ${new KeyUsage(leaf.keyUsage).toString()} allows neither keyAgreement ` +
    'nor digitalSignature, so it is not meant for the key agreement the protocol does'
  );
}

export function issuerProblem(issuer: TrustCertificate, intermediatesBelow: number): string | undefined {
  const constraints = issuer.basicConstraints;
  if (constraints?.cA !== true) {
    return `"${issuer.name}" issued a certificate but is not a CA certificate (no basicConstraints cA=true)`;
  }
  if (issuer.keyUsage !== undefined && (issuer.keyUsage & KeyUsageFlags.keyCertSign) === 0) {
    return `"${issuer.name}" issued a certificate but its keyUsage lacks keyCertSign`;
  }
  const pathLen = constraints.pathLenConstraint;
  if (pathLen !== undefined && intermediatesBelow > pathLen) {
    return `"${issuer.name}" allows ${pathLen} intermediate CA(s) below it (pathLenConstraint), the chain has ${intermediatesBelow}`;
  }
  return undefined;
}

export function criticalProblem(certificate: TrustCertificate): string | undefined {
  return certificate.unknownCritical === undefined
    ? undefined
    : `"${certificate.name}" has a critical extension this library does not process: ${certificate.unknownCritical}`;
}
