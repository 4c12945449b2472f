/**
 * Trust in the model's certificate (protocol §7): the certificate comes over the same connection
 * as the chat, so whoever terminates TLS could hand out their own. Two independent checks, either
 * or both, decided by the caller:
 *
 * - `pinnedKeys`: base64 SHA-256 of the model certificate's SubjectPublicKeyInfo (DER, as encoded
 *   in the certificate; the value `ark-e2ee cert MODEL` shows as "pin"). The certificate's key
 *   must be one of them.
 * - `trustAnchors`: PEM root certificates. The model certificate must chain to one of them, through
 *   the extra CERTIFICATE blocks of its own PEM and the configured `intermediates`: each link's
 *   issuer name DER-equal to the next one's subject, its signature verified, every certificate
 *   valid now, every issuer a CA (basicConstraints cA, keyCertSign when keyUsage is present,
 *   pathLenConstraint honoured), no unknown critical extension, at most 5 certificates.
 *
 * Runtime-neutral: DER read with @peculiar/asn1-schema / asn1-x509 and a small TLV reader (for the
 * exact bytes that were signed), signatures and SHA-256 with WebCrypto (`globalThis.crypto.subtle`),
 * which Node ≥ 20, browsers and edge runtimes all have. No `node:` module.
 */
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  BasicConstraints,
  Certificate,
  KeyUsage,
  KeyUsageFlags,
  Name,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_certificatePolicies,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  type Time,
} from '@peculiar/asn1-x509';

import { InvalidCertificateError } from '../errors.js';
import { decodeBase64, encodeBase64 } from '../protocol/base64.js';

/** The trust settings of `ArkEncryptionOptions`. */
export interface TrustOptions {
  /**
   * PEM root certificates the model certificate must chain to. One string may hold several
   * CERTIFICATE blocks; other PEM blocks (keys…) are ignored.
   */
  trustAnchors?: string | readonly string[] | undefined;
  /** Base64 SHA-256 of the model certificate's SubjectPublicKeyInfo DER (`sha256/` prefix allowed). */
  pinnedKeys?: readonly string[] | undefined;
  /** Extra intermediate CA certificates (PEM) to build the chain with; needs `trustAnchors`. */
  intermediates?: string | readonly string[] | undefined;
}

/** What a successful verification found. */
export interface TrustVerdict {
  /** The model certificate's key pin: base64 SHA-256 of its SubjectPublicKeyInfo. */
  readonly pin: string;
  /** Subjects from the model certificate to the anchor; only the model's when only pins are set. */
  readonly chain: readonly string[];
  /** The span in which every certificate of the chain is valid (ms since the epoch). */
  readonly validFromMs: number;
  readonly validUntilMs: number;
}

/** At most this many certificates from the model's to the anchor, both included. */
export const MAX_CHAIN_LENGTH = 5;
/**
 * At most this many CERTIFICATE blocks are read from the model's PEM (the model certificate and
 * the intermediates it brings): a chain needs at most MAX_CHAIN_LENGTH - 1 of them, the rest is
 * room for an alternative path or two. Anything longer is not a chain, and reading it costs.
 */
export const MAX_PEM_CERTIFICATES = 8;
/**
 * At most this many signature checks per verification. A chain of MAX_CHAIN_LENGTH takes 4, a
 * few decoys or cross-certificates a few more; a bundle built to make path building explode
 * (many certificates of one name) is refused once the budget is spent, in milliseconds.
 */
export const MAX_SIGNATURE_CHECKS = 16;
/** At most this many (certificate, candidate issuer) links looked at per verification. */
const MAX_LINKS_TRIED = 64;

const PEM_BEGIN = '-----BEGIN CERTIFICATE-----';
const PEM_END = '-----END CERTIFICATE-----';
const PIN_BYTES = 32;
const MEMO_SIZE = 64;

const OID = {
  ecPublicKey: '1.2.840.10045.2.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
  rsassaPss: '1.2.840.113549.1.1.10',
  mgf1: '1.2.840.113549.1.1.8',
  ed25519: '1.3.101.112',
  p256: '1.2.840.10045.3.1.7',
  p384: '1.3.132.0.34',
  p521: '1.3.132.0.35',
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
} as const;

type Hash = 'SHA-256' | 'SHA-384' | 'SHA-512';

const HASH_BY_OID: Readonly<Record<string, Hash>> = {
  [OID.sha256]: 'SHA-256',
  [OID.sha384]: 'SHA-384',
  [OID.sha512]: 'SHA-512',
};

/** Signature algorithms with their hash fixed by the OID. */
const SIGNATURES: Readonly<Record<string, { kind: 'ecdsa' | 'rsa'; hash: Hash }>> = {
  '1.2.840.10045.4.3.2': { kind: 'ecdsa', hash: 'SHA-256' },
  '1.2.840.10045.4.3.3': { kind: 'ecdsa', hash: 'SHA-384' },
  '1.2.840.10045.4.3.4': { kind: 'ecdsa', hash: 'SHA-512' },
  '1.2.840.113549.1.1.11': { kind: 'rsa', hash: 'SHA-256' },
  '1.2.840.113549.1.1.12': { kind: 'rsa', hash: 'SHA-384' },
  '1.2.840.113549.1.1.13': { kind: 'rsa', hash: 'SHA-512' },
};

const WEAK_SIGNATURES: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
  '1.2.840.10040.4.3': 'dsa-with-sha1',
};

const CURVES: Readonly<Record<string, { name: string; size: number }>> = {
  [OID.p256]: { name: 'P-256', size: 32 },
  [OID.p384]: { name: 'P-384', size: 48 },
  [OID.p521]: { name: 'P-521', size: 66 },
};

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

// ---------------------------------------------------------------------------------------------
// DER

interface Tlv {
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  /** Offset of the first content byte. */
  contentStart: number;
  /** Offset after the last content byte. */
  end: number;
}

class DerError extends Error {}

function readTlv(der: Uint8Array, offset: number, limit = der.length): Tlv {
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

function childrenOf(der: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let offset = parent.contentStart; offset < parent.end; ) {
    const child = readTlv(der, offset, parent.end);
    out.push(child);
    offset = child.end;
  }
  return out;
}

function bytesOf(der: Uint8Array, tlv: Tlv | undefined): Uint8Array {
  if (tlv === undefined) throw new DerError('missing field');
  return der.slice(tlv.start, tlv.end);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A DER ECDSA-Sig-Value `SEQUENCE { r INTEGER, s INTEGER }` → `r || s` of `size` bytes each. */
function ecdsaRawSignature(der: Uint8Array, size: number): Uint8Array | undefined {
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

// ---------------------------------------------------------------------------------------------
// Certificates

interface TrustCertificate {
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

function readCertificate(pemBlock: string): TrustCertificate {
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

/** Every CERTIFICATE block of `option` (a PEM text or a list of them), read; config errors thrown. */
function readOption(option: string | readonly string[] | undefined, what: string): TrustCertificate[] | undefined {
  if (option === undefined) return undefined;
  const texts = typeof option === 'string' ? [option] : option;
  if (!Array.isArray(texts) || texts.some((text) => typeof text !== 'string')) {
    throw new InvalidCertificateError(`${what} must be a PEM string or an array of PEM strings`);
  }
  const blocks = texts.flatMap((text) => splitPemCertificates(text));
  if (blocks.length === 0) {
    throw new InvalidCertificateError(
      `${what} holds no '-----BEGIN CERTIFICATE-----' block: give PEM certificates, or leave ${what} out`,
    );
  }
  return blocks.map((block, index) => {
    try {
      return readCertificate(block);
    } catch (cause) {
      throw new InvalidCertificateError(
        `${what}: certificate ${index + 1} is not a DER X.509 certificate (${(cause as Error).message})`,
        { cause },
      );
    }
  });
}

function readPins(option: readonly string[] | undefined): Set<string> | undefined {
  if (option === undefined) return undefined;
  if (!Array.isArray(option)) throw new InvalidCertificateError('pinnedKeys must be an array of base64 SHA-256 pins');
  if (option.length === 0) {
    throw new InvalidCertificateError('pinnedKeys is empty: give at least one pin, or leave pinnedKeys out');
  }
  const pins = new Set<string>();
  for (const raw of option) {
    const pin = typeof raw === 'string' ? raw.trim().replace(/^sha256\//i, '') : '';
    const bytes = decodeBase64(pin);
    if (bytes === undefined || bytes.length !== PIN_BYTES) {
      throw new InvalidCertificateError(
        `pinnedKeys: ${JSON.stringify(raw)} is not a base64 SHA-256 digest (44 characters ending in '='); ` +
          '`ark-e2ee cert MODEL` shows the pin of a model certificate',
      );
    }
    pins.add(pin);
  }
  return pins;
}

// ---------------------------------------------------------------------------------------------
// WebCrypto

function subtle(): SubtleCrypto {
  const crypto = (globalThis as { crypto?: { subtle?: SubtleCrypto } }).crypto;
  if (crypto?.subtle === undefined) {
    throw new InvalidCertificateError(
      'checking trustAnchors or pinnedKeys needs WebCrypto (globalThis.crypto.subtle), which this runtime does not have',
    );
  }
  return crypto.subtle;
}

/** base64 SHA-256 of `spki`. */
async function pinOf(spki: Uint8Array): Promise<string> {
  const digest = await subtle().digest('SHA-256', new Uint8Array(spki));
  return encodeBase64(new Uint8Array(digest));
}

/** The public key pin of the first certificate of a PEM text: base64 SHA-256 of its SPKI DER. */
export async function certificateKeyPin(pem: string): Promise<string> {
  const [first] = splitPemCertificates(pem);
  if (first === undefined) throw new InvalidCertificateError("no '-----BEGIN CERTIFICATE-----' block");
  let certificate: TrustCertificate;
  try {
    certificate = readCertificate(first);
  } catch (cause) {
    throw new InvalidCertificateError(`not a DER X.509 certificate (${(cause as Error).message})`, { cause });
  }
  return pinOf(certificate.spki);
}

function oidOfAlgorithm(der: ArrayBuffer | null | undefined): string | undefined {
  if (!(der instanceof ArrayBuffer)) return undefined;
  try {
    return AsnConvert.parse(der, AlgorithmIdentifier).algorithm;
  } catch {
    return undefined;
  }
}

/** RSASSA-PSS-params → WebCrypto's hash and salt length; a reason string when unsupported. */
function pssParameters(parameters: ArrayBuffer | null | undefined): { hash: Hash; saltLength: number } | string {
  if (!(parameters instanceof ArrayBuffer)) return 'RSASSA-PSS without parameters (SHA-1) is not accepted';
  const der = new Uint8Array(parameters);
  let hashOid = OID.sha1 as string;
  let mgfHashOid = OID.sha1 as string;
  let saltLength = 20;
  try {
    const sequence = readTlv(der, 0);
    if (sequence.tag !== 0x30) return 'malformed RSASSA-PSS parameters';
    for (const field of childrenOf(der, sequence)) {
      const inner = readTlv(der, field.contentStart, field.end);
      const innerBytes = der.slice(inner.start, inner.end);
      if (field.tag === 0xa0) {
        hashOid = AsnConvert.parse(innerBytes.buffer, AlgorithmIdentifier).algorithm;
      } else if (field.tag === 0xa1) {
        const mgf = AsnConvert.parse(innerBytes.buffer, AlgorithmIdentifier);
        if (mgf.algorithm !== OID.mgf1) return `RSASSA-PSS mask generation ${mgf.algorithm} is not MGF1`;
        mgfHashOid = oidOfAlgorithm(mgf.parameters) ?? '';
      } else if (field.tag === 0xa2) {
        if (inner.tag !== 0x02 || inner.end - inner.contentStart > 2) return 'bad RSASSA-PSS salt length';
        saltLength = 0;
        for (let i = inner.contentStart; i < inner.end; i++) saltLength = saltLength * 256 + (der[i] ?? 0);
      } else if (field.tag === 0xa3) {
        if (inner.end - inner.contentStart !== 1 || der[inner.contentStart] !== 1) return 'bad RSASSA-PSS trailer field';
      }
    }
  } catch {
    return 'malformed RSASSA-PSS parameters';
  }
  const hash = HASH_BY_OID[hashOid];
  if (hash === undefined) return `RSASSA-PSS with hash ${hashOid === OID.sha1 ? 'SHA-1' : hashOid} is not accepted`;
  if (mgfHashOid !== hashOid) return 'RSASSA-PSS with an MGF1 hash other than the message hash is not supported';
  return { hash, saltLength };
}

interface VerifyPlan {
  importAlgorithm: RsaHashedImportParams | EcKeyImportParams | Algorithm;
  verifyAlgorithm: RsaPssParams | EcdsaParams | Algorithm;
  /** Converts the certificate's signature bytes into WebCrypto's form. */
  signature: (raw: Uint8Array) => Uint8Array | undefined;
}

/** How to verify what `child` says it is signed with under `issuer`'s key, or why not. */
function planFor(child: TrustCertificate, issuer: TrustCertificate): VerifyPlan | string {
  const algorithm = child.signatureAlgorithm.algorithm;
  const keyType = issuer.keyAlgorithm.algorithm;
  const weak = WEAK_SIGNATURES[algorithm];
  if (weak !== undefined) return `it is signed with ${weak}, which is not accepted`;
  const fixed = SIGNATURES[algorithm];
  if (fixed?.kind === 'ecdsa') {
    if (keyType !== OID.ecPublicKey) return `it has an ECDSA signature but the issuer's key is not an EC key`;
    const curveOid = oidOfCurve(issuer.keyAlgorithm.parameters);
    const curve = curveOid === undefined ? undefined : CURVES[curveOid];
    if (curve === undefined) return `the issuer's EC key is on an unsupported curve (${curveOid ?? 'unnamed'})`;
    return {
      importAlgorithm: { name: 'ECDSA', namedCurve: curve.name },
      verifyAlgorithm: { name: 'ECDSA', hash: fixed.hash },
      signature: (raw) => ecdsaRawSignature(raw, curve.size),
    };
  }
  if (fixed?.kind === 'rsa') {
    if (keyType !== OID.rsaEncryption) return `it has an RSA signature but the issuer's key is not an RSA key`;
    return {
      importAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: fixed.hash },
      verifyAlgorithm: { name: 'RSASSA-PKCS1-v1_5' },
      signature: (raw) => raw,
    };
  }
  if (algorithm === OID.rsassaPss) {
    if (keyType !== OID.rsaEncryption && keyType !== OID.rsassaPss) {
      return `it has an RSASSA-PSS signature but the issuer's key is not an RSA key`;
    }
    const pss = pssParameters(child.signatureAlgorithm.parameters);
    if (typeof pss === 'string') return pss;
    return {
      importAlgorithm: { name: 'RSA-PSS', hash: pss.hash },
      verifyAlgorithm: { name: 'RSA-PSS', saltLength: pss.saltLength },
      signature: (raw) => raw,
    };
  }
  if (algorithm === OID.ed25519) {
    if (keyType !== OID.ed25519) return `it has an Ed25519 signature but the issuer's key is not an Ed25519 key`;
    return { importAlgorithm: { name: 'Ed25519' }, verifyAlgorithm: { name: 'Ed25519' }, signature: (raw) => raw };
  }
  return `its signature algorithm ${algorithm} is not supported (ECDSA, RSA PKCS#1 v1.5 or PSS with SHA-2, Ed25519)`;
}

function oidOfCurve(parameters: ArrayBuffer | null | undefined): string | undefined {
  if (!(parameters instanceof ArrayBuffer)) return undefined;
  const der = new Uint8Array(parameters);
  if (der[0] !== 0x06) return undefined;
  // Reuse the AlgorithmIdentifier parser: wrap the OID in a SEQUENCE.
  const wrapped = new Uint8Array(der.length + 2);
  if (der.length > 127) return undefined;
  wrapped[0] = 0x30;
  wrapped[1] = der.length;
  wrapped.set(der, 2);
  return oidOfAlgorithm(wrapped.buffer);
}

/** `undefined` when `issuer`'s key verifies `child`'s signature; otherwise why not. */
async function signatureProblem(child: TrustCertificate, issuer: TrustCertificate): Promise<string | undefined> {
  const plan = planFor(child, issuer);
  if (typeof plan === 'string') return plan;
  const signature = plan.signature(child.signature);
  if (signature === undefined) return 'its signature is malformed';
  let key: CryptoKey;
  try {
    key = await subtle().importKey('spki', new Uint8Array(issuer.spki), plan.importAlgorithm, false, ['verify']);
  } catch (cause) {
    return `the issuer's key cannot be used by this runtime's WebCrypto (${(cause as Error).message})`;
  }
  let ok: boolean;
  try {
    ok = await subtle().verify(plan.verifyAlgorithm, key, new Uint8Array(signature), new Uint8Array(child.tbs));
  } catch (cause) {
    return `its signature could not be checked (${(cause as Error).message})`;
  }
  return ok ? undefined : `its signature does not verify under the key of "${issuer.name}"`;
}

function validityProblem(certificate: TrustCertificate, nowMs: number): string | undefined {
  if (nowMs < certificate.notBefore.getTime()) {
    return `"${certificate.name}" is not valid yet (valid from ${certificate.notBefore.toISOString()})`;
  }
  if (nowMs > certificate.notAfter.getTime()) {
    return `"${certificate.name}" expired on ${certificate.notAfter.toISOString()}`;
  }
  return undefined;
}

/** Leaf key usage: absent, or naming keyAgreement (ECDH) or digitalSignature. */
function leafUsageProblem(leaf: TrustCertificate): string | undefined {
  if (leaf.keyUsage === undefined) return undefined;
  if ((leaf.keyUsage & (KeyUsageFlags.keyAgreement | KeyUsageFlags.digitalSignature)) !== 0) return undefined;
  return (
    `the model certificate's keyUsage ${new KeyUsage(leaf.keyUsage).toString()} allows neither keyAgreement ` +
    'nor digitalSignature, so it is not meant for the key agreement the protocol does'
  );
}

function issuerProblem(issuer: TrustCertificate, intermediatesBelow: number): string | undefined {
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

interface Failure {
  depth: number;
  message: string;
}

function deeper(best: Failure | undefined, next: Failure): Failure {
  return best === undefined || next.depth > best.depth ? next : best;
}

/** Path building ran out of its budget: the whole verification fails with this message. */
class OverBudget extends Error {}

/** What one verification may spend, and the signature checks it already made. */
class SearchBudget {
  signatureChecks = 0;
  linksTried = 0;
  /** child → issuer key → why `child` is not signed by that key (`undefined`: it is). */
  private readonly checked = new Map<TrustCertificate, Map<string, string | undefined>>();

  constructor(readonly nowMs: number) {}

  /** Whether `issuer`'s key signed `child`: checked once per (child, issuer key) pair. */
  async signature(child: TrustCertificate, issuer: TrustCertificate): Promise<string | undefined> {
    let byKey = this.checked.get(child);
    if (byKey === undefined) this.checked.set(child, (byKey = new Map()));
    if (byKey.has(issuer.keyId)) return byKey.get(issuer.keyId);
    if (this.signatureChecks >= MAX_SIGNATURE_CHECKS) {
      throw new OverBudget(
        `path building stopped after ${MAX_SIGNATURE_CHECKS} signature checks without reaching a trust anchor ` +
          '(the PEM offers too many candidate issuers); give the model certificate with its own chain only',
      );
    }
    this.signatureChecks++;
    const problem = await signatureProblem(child, issuer);
    byKey.set(issuer.keyId, problem);
    return problem;
  }

  link(): void {
    if (++this.linksTried > MAX_LINKS_TRIED) {
      throw new OverBudget(
        `path building stopped after looking at ${MAX_LINKS_TRIED} candidate issuers without reaching a trust ` +
          'anchor; give the model certificate with its own chain only',
      );
    }
  }
}

/** A remembered outcome for one PEM text: a verdict, or why it failed and while that holds. */
type Remembered =
  | { verdict: TrustVerdict }
  | { why: string; fromMs: number; untilMs: number };

/**
 * The span around `nowMs` in which no certificate of `certificates` becomes valid or expires.
 * Time enters a verification only through those comparisons, so a failure at `nowMs` is the
 * same failure anywhere in this span.
 */
function steadySpan(certificates: readonly TrustCertificate[], nowMs: number): { fromMs: number; untilMs: number } {
  let fromMs = Number.NEGATIVE_INFINITY;
  let untilMs = Number.POSITIVE_INFINITY;
  for (const certificate of certificates) {
    // Valid exactly for notBefore <= now <= notAfter: changes happen at notBefore and notAfter + 1.
    for (const edge of [certificate.notBefore.getTime(), certificate.notAfter.getTime() + 1]) {
      if (edge <= nowMs) fromMs = Math.max(fromMs, edge);
      else untilMs = Math.min(untilMs, edge);
    }
  }
  return { fromMs, untilMs };
}

/** The configured checks; `CertificateTrust.from` gives `undefined` when nothing is configured. */
export class CertificateTrust {
  /** By SHA-256 of the PEM text (a PEM can be up to a megabyte; its digest is 44 characters). */
  private readonly memo = new Map<string, Remembered>();

  private constructor(
    private readonly anchors: readonly TrustCertificate[] | undefined,
    private readonly intermediates: readonly TrustCertificate[],
    private readonly pins: ReadonlySet<string> | undefined,
  ) {}

  /**
   * The checks `options` ask for, or `undefined` when they ask for none. Throws
   * `InvalidCertificateError` for settings that cannot be right (an anchor that is not a
   * certificate, an empty list, a pin that is not a SHA-256 digest, intermediates without anchors).
   */
  static from(options: TrustOptions): CertificateTrust | undefined {
    if (Array.isArray(options.trustAnchors) && options.trustAnchors.length === 0) {
      throw new InvalidCertificateError('trustAnchors is empty: give at least one root certificate, or leave trustAnchors out');
    }
    const anchors = readOption(options.trustAnchors, 'trustAnchors');
    const pins = readPins(options.pinnedKeys);
    const intermediates = options.intermediates === undefined ? [] : (readOption(options.intermediates, 'intermediates') ?? []);
    if (intermediates.length > 0 && anchors === undefined) {
      throw new InvalidCertificateError('intermediates are set without trustAnchors, so they would not be used: set trustAnchors too');
    }
    if (anchors === undefined && pins === undefined) return undefined;
    return new CertificateTrust(anchors, intermediates, pins);
  }

  /**
   * Checks the model certificate `pem` (its first CERTIFICATE block; further blocks are
   * intermediates) at `nowMs`. Throws `InvalidCertificateError` naming `subject` and what failed.
   * The outcome is remembered for this PEM text: a success while its chain is valid, a failure
   * until a certificate involved becomes valid or expires; either way a retry costs no signature check.
   */
  async verify(pem: string, nowMs: number, subject: string): Promise<TrustVerdict> {
    const key = encodeBase64(new Uint8Array(await subtle().digest('SHA-256', new TextEncoder().encode(pem))));
    const remembered = this.memo.get(key);
    if (remembered !== undefined) {
      if ('verdict' in remembered) {
        const { verdict } = remembered;
        if (verdict.validFromMs <= nowMs && nowMs <= verdict.validUntilMs) return verdict;
      } else if (remembered.fromMs <= nowMs && nowMs < remembered.untilMs) {
        throw notTrusted(subject, remembered.why);
      }
    }
    const outcome = await this.evaluate(pem, nowMs);
    if (this.memo.size >= MEMO_SIZE) this.memo.delete(this.memo.keys().next().value!);
    this.memo.set(key, outcome);
    if ('verdict' in outcome) return outcome.verdict;
    throw notTrusted(subject, outcome.why);
  }

  /** The checks themselves, once per PEM text and time span. */
  private async evaluate(pem: string, nowMs: number): Promise<Remembered> {
    const blocks = splitPemCertificates(pem);
    const never = { fromMs: Number.NEGATIVE_INFINITY, untilMs: Number.POSITIVE_INFINITY };
    if (blocks.length === 0) return { why: "it holds no '-----BEGIN CERTIFICATE-----' block", ...never };
    if (blocks.length > MAX_PEM_CERTIFICATES) {
      return {
        why: `its PEM holds ${blocks.length} certificates; a chain has at most ${MAX_CHAIN_LENGTH}, and at most ` +
          `${MAX_PEM_CERTIFICATES} are read (the model certificate first, then its own chain)`,
        ...never,
      };
    }
    const certificates: TrustCertificate[] = [];
    for (const [index, block] of blocks.entries()) {
      try {
        certificates.push(readCertificate(block));
      } catch (cause) {
        const which = index === 0 ? 'it' : `the extra certificate ${index + 1} of its PEM`;
        return { why: `${which} cannot be read (${(cause as Error).message})`, ...never };
      }
    }
    const [leaf, ...bundled] = certificates as [TrustCertificate, ...TrustCertificate[]];
    const steady = (): { fromMs: number; untilMs: number } =>
      steadySpan([...certificates, ...this.intermediates, ...(this.anchors ?? [])], nowMs);
    const pin = await pinOf(leaf.spki);
    if (this.pins !== undefined && !this.pins.has(pin)) {
      return {
        why: `its public key pin is "${pin}", which is not in pinnedKeys (${this.pins.size} pin(s)). ` +
          'If the model key was changed on purpose, add this pin to pinnedKeys',
        ...never,
      };
    }
    let chain: readonly TrustCertificate[] = [leaf];
    if (this.anchors !== undefined) {
      const leafProblem = validityProblem(leaf, nowMs) ?? leafUsageProblem(leaf) ?? criticalProblem(leaf);
      if (leafProblem !== undefined) return { why: leafProblem, ...steady() };
      if (!this.anchors.some((anchor) => sameBytes(anchor.der, leaf.der))) {
        // Each distinct certificate once: a PEM that repeats one adds nothing to try.
        const pool = new Map<string, TrustCertificate>();
        for (const certificate of [...bundled, ...this.intermediates]) {
          if (!sameBytes(certificate.der, leaf.der)) pool.set(encodeBase64(certificate.der), certificate);
        }
        let found: TrustCertificate[] | Failure;
        try {
          found = await this.search([leaf], [...pool.values()], new SearchBudget(nowMs));
        } catch (error) {
          if (!(error instanceof OverBudget)) throw error;
          return { why: error.message, ...steady() };
        }
        if (!Array.isArray(found)) return { why: found.message, ...steady() };
        chain = found;
      }
    }
    return {
      verdict: Object.freeze({
        pin,
        chain: Object.freeze(chain.map((certificate) => certificate.name)),
        validFromMs: Math.max(...chain.map((certificate) => certificate.notBefore.getTime())),
        validUntilMs: Math.min(...chain.map((certificate) => certificate.notAfter.getTime())),
      }),
    };
  }

  /**
   * A path from `chain`'s last certificate to an anchor, or the most advanced failure. Bounded:
   * at most MAX_CHAIN_LENGTH deep, no CA twice on a path (same subject and key, RFC 4158 §5.2:
   * the loop that made 16 same-named CAs cost n⁴), each (child, issuer key) signature checked
   * once, and the budget of `budget` (OverBudget thrown when spent).
   */
  private async search(
    chain: readonly TrustCertificate[],
    pool: readonly TrustCertificate[],
    budget: SearchBudget,
  ): Promise<TrustCertificate[] | Failure> {
    const child = chain[chain.length - 1]!;
    const link = `link ${chain.length} ("${child.name}" issued by "${child.issuerName}")`;
    const candidates = [
      ...this.anchors!.filter((anchor) => sameBytes(anchor.subject, child.issuer)).map((cert) => ({ cert, anchor: true })),
      ...pool
        .filter((cert) => sameBytes(cert.subject, child.issuer) && !chain.some((c) => c.identity === cert.identity))
        .map((cert) => ({ cert, anchor: false })),
    ];
    if (candidates.length === 0) {
      const selfSigned = sameBytes(child.issuer, child.subject);
      return {
        depth: chain.length,
        message: selfSigned && chain.length === 1
          ? `it is self-signed ("${child.name}") and is not one of trustAnchors`
          : `${link}: no trust anchor or intermediate is named "${child.issuerName}"` +
            (chain.length === 1 ? ' (pass the intermediate CA certificates with the intermediates option)' : ''),
      };
    }
    let best: Failure | undefined;
    for (const { cert, anchor } of candidates) {
      budget.link();
      const problem =
        (await budget.signature(child, cert)) ??
        validityProblem(cert, budget.nowMs) ??
        issuerProblem(cert, chain.length - 1) ??
        criticalProblem(cert);
      if (problem !== undefined) {
        best = deeper(best, { depth: chain.length, message: `${link}: ${problem}` });
        continue;
      }
      if (anchor) return [...chain, cert];
      if (chain.length + 2 > MAX_CHAIN_LENGTH) {
        best = deeper(best, {
          depth: chain.length,
          message: `${link}: no trust anchor within ${MAX_CHAIN_LENGTH} certificates of the model certificate`,
        });
        continue;
      }
      const found = await this.search([...chain, cert], pool, budget);
      if (Array.isArray(found)) return found;
      best = deeper(best, found);
    }
    return best!;
  }
}

function notTrusted(subject: string, why: string): InvalidCertificateError {
  return new InvalidCertificateError(`${subject} is not trusted: ${why}; nothing was sent`);
}

function criticalProblem(certificate: TrustCertificate): string | undefined {
  return certificate.unknownCritical === undefined
    ? undefined
    : `"${certificate.name}" has a critical extension this library does not process: ${certificate.unknownCritical}`;
}
