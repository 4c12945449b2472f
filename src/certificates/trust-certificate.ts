/**
 * One certificate as the trust checks see it (trust.ts): read with the library's X.509 reader
 * (protocol/x509.ts), which keeps the exact DER bytes of the fields that are signed or compared,
 * and the checks that concern one certificate alone (validity, CA constraints, key usage,
 * critical extensions). Runtime-neutral.
 */
import { encodeBase64 } from '../crypto/base64.js';
import { DerError } from '../protocol/der.js';
import { pemBlockDer } from '../protocol/pem.js';
import { readX509, type AlgorithmIdentifier, type NameAttribute } from '../protocol/x509.js';
import {
  EXTENSION_OID,
  findExtension,
  readBasicConstraints,
  readKeyUsage,
  type BasicConstraints,
} from '../protocol/x509-extensions.js';

export { splitPemCertificates } from '../protocol/pem.js';

/** Critical extensions whose meaning is honoured (or harmless to accept) here. */
const KNOWN_CRITICAL = new Set<string>([
  EXTENSION_OID.basicConstraints,
  EXTENSION_OID.keyUsage,
  EXTENSION_OID.extKeyUsage,
  EXTENSION_OID.subjectAltName,
  EXTENSION_OID.subjectKeyIdentifier,
  EXTENSION_OID.authorityKeyIdentifier,
  EXTENSION_OID.certificatePolicies,
]);

const EXTENSION_NAMES: Readonly<Record<string, string>> = {
  [EXTENSION_OID.nameConstraints]: 'nameConstraints',
  [EXTENSION_OID.policyMappings]: 'policyMappings',
  [EXTENSION_OID.policyConstraints]: 'policyConstraints',
  [EXTENSION_OID.inhibitAnyPolicy]: 'inhibitAnyPolicy',
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

function describeName(attributes: readonly NameAttribute[]): string {
  const parts = attributes.map(({ oid, value }) => `${ATTRIBUTE_NAMES[oid] ?? oid}=${value ?? '(not text)'}`);
  return parts.length === 0 ? '(empty name)' : parts.join(', ');
}

/** Reads one CERTIFICATE block; a DerError saying what is wrong when it cannot be read. */
export function readCertificate(pemBlock: string): TrustCertificate {
  const der = pemBlockDer(pemBlock);
  if (der === undefined) throw new DerError('the PEM body is not valid base64');
  const certificate = readX509(der);
  let basicConstraints: BasicConstraints | undefined;
  let keyUsage: number | undefined;
  const constraints = findExtension(certificate, EXTENSION_OID.basicConstraints);
  if (constraints !== undefined) basicConstraints = readBasicConstraints(constraints.value);
  const usage = findExtension(certificate, EXTENSION_OID.keyUsage);
  if (usage !== undefined) keyUsage = readKeyUsage(usage.value);
  const critical = certificate.extensions.find((extension) => extension.critical && !KNOWN_CRITICAL.has(extension.oid));
  const known = critical === undefined ? undefined : EXTENSION_NAMES[critical.oid];
  const keyId = encodeBase64(certificate.spki);
  return {
    der: certificate.der,
    tbs: certificate.tbs,
    issuer: certificate.issuer,
    subject: certificate.subject,
    spki: certificate.spki,
    keyId,
    identity: `${encodeBase64(certificate.subject)} ${keyId}`,
    signature: certificate.signature,
    signatureAlgorithm: certificate.signatureAlgorithm,
    keyAlgorithm: certificate.publicKeyAlgorithm,
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
    name: describeName(certificate.subjectAttributes),
    issuerName: describeName(certificate.issuerAttributes),
    basicConstraints,
    keyUsage,
    unknownCritical:
      critical === undefined ? undefined : known === undefined ? `OID ${critical.oid}` : `${known} (OID ${critical.oid})`,
  };
}
