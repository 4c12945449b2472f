/**
 * The mock service's own certificate: a fresh P-256 key pair and a self-signed X.509 v3
 * certificate built with @peculiar/asn1-x509 and signed (ecdsa-with-SHA256) by node:crypto.
 * In AICC mode its Subject Alternative Names are `ring.<RingID>` then `key.<KeyID>` (protocol §1).
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  BasicConstraints,
  Certificate,
  Extension,
  Extensions,
  GeneralName,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
  id_ce_basicConstraints,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
} from '@peculiar/asn1-x509';
import { AICC_KEY_PREFIX, AICC_RING_PREFIX } from '../protocol/constants.js';
import { encodePem } from '../protocol/pem.js';

/** Subject common name of every mock certificate. */
export const MOCK_CERTIFICATE_SUBJECT = 'ark-e2ee mock model';
export const DEFAULT_MOCK_RING_ID = 'ring-mock';
export const DEFAULT_MOCK_KEY_ID = 'key-mock';

const OID_COMMON_NAME = '2.5.4.3';
const OID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

export interface MockCertificateOptions {
  /** Put `ring.<ringId>` and `key.<keyId>` in the SAN (AICC mode). Default false. */
  aicc?: boolean;
  /** AICC key ring id; default `ring-mock`. */
  ringId?: string;
  /** AICC key id; default `key-mock`. */
  keyId?: string;
  /** Start of validity; default now − 1 hour. */
  notBefore?: Date;
  /** End of validity; default now + 365 days. */
  notAfter?: Date;
}

export interface MockCertificate {
  /** The certificate, PEM (one CERTIFICATE block). */
  readonly certificatePem: string;
  /** The certificate, DER. */
  readonly certificateDer: Uint8Array;
  /** The certificate's private key: what the service derives sessions with. */
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly aicc: boolean;
  /** `""` unless AICC. */
  readonly ringId: string;
  /** `""` unless AICC. */
  readonly keyId: string;
  /** Validity, whole seconds (as encoded). */
  readonly notBefore: Date;
  readonly notAfter: Date;
}

function wholeSeconds(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

function extension(extnID: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

/** A positive serial number of 16 bytes (first byte 0x01…0x7f, so no sign or padding byte). */
function serialNumber(): ArrayBuffer {
  const serial = randomBytes(16);
  serial[0] = ((serial[0] ?? 1) & 0x7f) | 0x01;
  return toArrayBuffer(serial);
}

export function toPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  return encodePem(der, label);
}

function nameOf(commonName: string): Name {
  return new Name([
    new RelativeDistinguishedName([
      new AttributeTypeAndValue({ type: OID_COMMON_NAME, value: new AttributeValue({ utf8String: commonName }) }),
    ]),
  ]);
}

/** What one certificate says, and who signs it (P-256, ecdsa-with-SHA256). */
export interface CertificateIssue {
  subject: string;
  issuer: string;
  issuerKey: KeyObject;
  publicKey: KeyObject;
  ca: boolean;
  notBefore: Date;
  notAfter: Date;
  /** Subject Alternative Names (DNS); none when empty. */
  dnsNames?: readonly string[];
  /** Add a Subject Key Identifier (SHA-1 of the key, RFC 5280 §4.2.1.2 method 1). */
  subjectKeyIdentifier?: boolean;
}

/** An X.509 v3 certificate as DER, built with @peculiar/asn1-x509 and signed by node:crypto. */
export function issueCertificate(spec: CertificateIssue): Uint8Array {
  const spki = AsnConvert.parse(spec.publicKey.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo);
  const signatureAlgorithm = new AlgorithmIdentifier({ algorithm: OID_ECDSA_WITH_SHA256 });
  const usage = spec.ca
    ? KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign
    : KeyUsageFlags.digitalSignature | KeyUsageFlags.keyAgreement;
  const extensions = new Extensions([
    extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: spec.ca })),
    extension(id_ce_keyUsage, true, new KeyUsage(usage)),
  ]);
  if (spec.subjectKeyIdentifier) {
    const keyId = createHash('sha1').update(new Uint8Array(spki.subjectPublicKey)).digest();
    extensions.push(extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(keyId)));
  }
  if (spec.dnsNames && spec.dnsNames.length > 0) {
    const san = new SubjectAlternativeName(spec.dnsNames.map((dNSName) => new GeneralName({ dNSName })));
    extensions.push(extension(id_ce_subjectAltName, false, san));
  }
  const tbsCertificate = new TBSCertificate({
    version: Version.v3,
    serialNumber: serialNumber(),
    signature: signatureAlgorithm,
    issuer: nameOf(spec.issuer),
    validity: new Validity({ notBefore: spec.notBefore, notAfter: spec.notAfter }),
    subject: nameOf(spec.subject),
    subjectPublicKeyInfo: spki,
    extensions,
  });
  const tbsDer = new Uint8Array(AsnConvert.serialize(tbsCertificate));
  const signature = sign('sha256', tbsDer, { key: spec.issuerKey, dsaEncoding: 'der' });
  const certificate = new Certificate({ tbsCertificate, signatureAlgorithm, signatureValue: toArrayBuffer(signature) });
  return new Uint8Array(AsnConvert.serialize(certificate));
}

/** Makes a fresh key pair and a self-signed certificate for it. */
export function createMockCertificate(options: MockCertificateOptions = {}): MockCertificate {
  const aicc = options.aicc ?? false;
  const ringId = aicc ? (options.ringId ?? DEFAULT_MOCK_RING_ID) : '';
  const keyId = aicc ? (options.keyId ?? DEFAULT_MOCK_KEY_ID) : '';
  const now = Date.now();
  const notBefore = wholeSeconds(options.notBefore ?? new Date(now - HOUR_MS));
  const notAfter = wholeSeconds(options.notAfter ?? new Date(now + 365 * DAY_MS));

  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const certificateDer = issueCertificate({
    subject: MOCK_CERTIFICATE_SUBJECT,
    issuer: MOCK_CERTIFICATE_SUBJECT,
    issuerKey: privateKey,
    publicKey,
    ca: false,
    notBefore,
    notAfter,
    dnsNames: aicc ? [`${AICC_RING_PREFIX}${ringId}`, `${AICC_KEY_PREFIX}${keyId}`] : [],
    subjectKeyIdentifier: true,
  });

  return {
    certificatePem: toPem(certificateDer),
    certificateDer,
    privateKey,
    publicKey,
    aicc,
    ringId,
    keyId,
    notBefore,
    notAfter,
  };
}
