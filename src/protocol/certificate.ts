/**
 * parseCertificate: the model's PEM X.509 certificate → its P-256 key and AICC ids (protocol §1).
 *
 * Pure protocol layer: no Node APIs, runs in browsers. The certificate's signature and validity
 * period are not checked here (there is no trust anchor in the protocol, see §7); the point is
 * checked for length and form only, the crypto backends check it is on the curve at ECDH time.
 */
import { InvalidCertificateError } from '../errors.js';
import { DerError, decodeOid } from './der.js';
import { PEM_CERTIFICATE_BEGIN, PEM_CERTIFICATE_END, hasPemCertificateBegin, pemBlockDer, splitPemCertificates } from './pem.js';
import { readX509, type X509Certificate } from './x509.js';
import { EXTENSION_OID, findExtension, readSanDnsNames } from './x509-extensions.js';
import { AICC_KEY_PREFIX, AICC_RING_PREFIX } from './constants.js';

export interface ModelCertificate {
  /** Subject public key as an uncompressed P-256 point `04 || X || Y` (65 bytes). */
  readonly publicKey: Uint8Array;
  /** AICC key ring id from the first SAN DNS name `ring.<RingID>`; `""` when absent. */
  readonly ringId: string;
  /** AICC key id from the second SAN DNS name `key.<KeyID>`; `""` when absent. */
  readonly keyId: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Whether the certificate carries both AICC ids. */
  readonly isAICC: boolean;
  /** The PEM text it was parsed from. */
  readonly pem: string;
}

const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const OID_PRIME256V1 = '1.2.840.10045.3.1.7';
const P256_UNCOMPRESSED_LENGTH = 65;
const P256_COMPRESSED_LENGTH = 33;
const WHAT_TO_DO = 'pass the PEM text the certificate service returned';

/** Names for the algorithms and curves an error message is likely to meet. */
const OID_NAMES: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.1': 'RSA (rsaEncryption)',
  '1.2.840.113549.1.1.10': 'RSASSA-PSS',
  '1.2.840.10040.4.1': 'DSA',
  '1.3.101.110': 'X25519',
  '1.3.101.111': 'X448',
  '1.3.101.112': 'Ed25519',
  '1.3.101.113': 'Ed448',
  '1.2.840.10045.3.1.1': 'P-192 (prime192v1)',
  '1.3.132.0.33': 'P-224 (secp224r1)',
  '1.3.132.0.34': 'P-384 (secp384r1)',
  '1.3.132.0.35': 'P-521 (secp521r1)',
  '1.3.132.0.10': 'secp256k1',
  '1.3.36.3.3.2.8.1.1.7': 'brainpoolP256r1',
  '1.2.156.10197.1.301': 'SM2',
};

function describeOid(oid: string): string {
  const name = OID_NAMES[oid];
  return name === undefined ? `OID ${oid}` : `${name}, OID ${oid}`;
}

function fail(message: string, cause?: unknown): never {
  throw new InvalidCertificateError(message, cause === undefined ? undefined : { cause });
}

/** The DER bytes of the one `CERTIFICATE` block in `pem`. */
function pemToDer(pem: string): Uint8Array {
  const [block] = splitPemCertificates(pem);
  if (block === undefined) {
    if (!hasPemCertificateBegin(pem)) {
      fail(`model certificate is not a PEM 'CERTIFICATE' block (no '${PEM_CERTIFICATE_BEGIN}' line): ${WHAT_TO_DO}`);
    }
    fail(`model certificate PEM is truncated (no '${PEM_CERTIFICATE_END}' line): ${WHAT_TO_DO}, in full`);
  }
  // A second block, complete or cut, has its BEGIN line after the first block's end.
  if (hasPemCertificateBegin(pem, pem.indexOf(block) + block.length)) {
    fail(`model certificate PEM holds more than one 'CERTIFICATE' block: pass only the model's own certificate`);
  }
  const der = pemBlockDer(block);
  if (der === undefined) {
    if (/^\s*$/.test(block.slice(PEM_CERTIFICATE_BEGIN.length, -PEM_CERTIFICATE_END.length))) {
      fail(`model certificate PEM block is empty: ${WHAT_TO_DO}`);
    }
    fail(`model certificate PEM body is not valid base64 (it was cut or altered): ${WHAT_TO_DO}, unchanged`);
  }
  return der;
}

function checkedPublicKey(cert: X509Certificate): Uint8Array {
  const algorithm = cert.publicKeyAlgorithm.oid;
  if (algorithm !== OID_EC_PUBLIC_KEY) {
    fail(`model certificate key is ${describeOid(algorithm)}, not an EC key on P-256: the protocol needs a P-256 certificate; check that it is the model's E2EE certificate`);
  }
  const parameters = cert.publicKeyAlgorithm.parameters;
  // Stryker disable next-line ConditionalExpression: decodeOid gives undefined for no bytes too
  const curve = parameters === undefined ? undefined : decodeOid(parameters);
  if (curve === undefined) {
    fail(`model certificate EC key does not name its curve (implicit or explicit curve parameters are not supported): the protocol needs a P-256 (prime256v1) key`);
  }
  if (curve !== OID_PRIME256V1) {
    fail(`model certificate EC key is on ${describeOid(curve)}, not P-256 (prime256v1): the protocol needs a P-256 certificate; check that it is the model's E2EE certificate`);
  }
  const point = cert.publicKey;
  if (point.length === P256_COMPRESSED_LENGTH && (point[0] === 0x02 || point[0] === 0x03)) {
    fail(`model certificate P-256 key is a compressed point; compressed keys are not supported: ask for a certificate with an uncompressed key`);
  }
  if (point.length !== P256_UNCOMPRESSED_LENGTH || point[0] !== 0x04) {
    fail(`model certificate P-256 key is not an uncompressed point (${point.length} bytes, expected 65 starting 04): ${WHAT_TO_DO}`);
  }
  // A compact copy, so that the key does not keep the whole DER alive. Nobody else holds that
  // buffer (pemToDer made it), so no test can tell the copy from a view:
  // Stryker disable next-line MethodExpression: see above
  return point.slice();
}

/** The DNS names of the Subject Alternative Name extension, in order; `[]` without one. */
function sanDnsNames(cert: X509Certificate): string[] {
  const extension = findExtension(cert, EXTENSION_OID.subjectAltName);
  // Any list without `ring.`/`key.` names gives the same ids as an empty one:
  // Stryker disable next-line ArrayDeclaration: see above
  if (extension === undefined) return [];
  try {
    return readSanDnsNames(extension.value);
  } catch (cause) {
    fail(`model certificate Subject Alternative Name extension is malformed: ${WHAT_TO_DO}`, cause);
  }
}

/** The id a SAN DNS name carries after its prefix; `""` for a name that is not such an id. */
function idAfterPrefix(name: string | undefined, prefix: string): string {
  // An ordinary host name in the SAN is not an AICC id: only `ring.<id>` / `key.<id>` count.
  return name !== undefined && name.startsWith(prefix) ? name.slice(prefix.length) : '';
}

/**
 * Parses the model's certificate (a PEM text with one `CERTIFICATE` block; CRLF and text around
 * the block are tolerated). Throws `InvalidCertificateError` for anything that is not a DER X.509
 * certificate with an uncompressed P-256 key.
 */
export function parseCertificate(pem: string): ModelCertificate {
  if (typeof pem !== 'string') fail(`model certificate must be a PEM string, got ${pem === null ? 'null' : typeof pem}`);
  const der = pemToDer(pem);
  let cert: X509Certificate;
  try {
    cert = readX509(der);
  } catch (cause) {
    if (!(cause instanceof DerError)) throw cause;
    fail(`model certificate is not a DER X.509 certificate (${cause.message}): ${WHAT_TO_DO}`, cause);
  }
  const publicKey = checkedPublicKey(cert);
  const dnsNames = sanDnsNames(cert);
  const ringId = idAfterPrefix(dnsNames[0], AICC_RING_PREFIX);
  const keyId = idAfterPrefix(dnsNames[1], AICC_KEY_PREFIX);
  return Object.freeze({
    publicKey,
    ringId,
    keyId,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    isAICC: ringId !== '' && keyId !== '',
    pem,
  });
}
