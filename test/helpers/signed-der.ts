/**
 * Certificates with a real signature over a TBSCertificate assembled from raw DER parts
 * (der-builder.ts), read back as the trust checks read them: the signature algorithm field, its
 * parameters and the signature bytes are whatever a test passes, so each can break one rule of
 * src/certificates/signature.ts while everything else stays valid. node:crypto signs; the library
 * verifies with WebCrypto, so a test that expects a verification to pass shows both agree.
 */
import { constants, sign, type KeyObject } from 'node:crypto';
import { readCertificate, type TrustCertificate } from '../../src/certificates/trust-certificate.js';
import { encodePem } from '../../src/protocol/pem.js';
import { bitString, bytes, certificateDer, explicit, integer, name, oid, seq, tlv } from './der-builder.js';

export const SIGNATURE_OID = {
  ecdsaSha256: '1.2.840.10045.4.3.2',
  ecdsaSha384: '1.2.840.10045.4.3.3',
  ecdsaSha512: '1.2.840.10045.4.3.4',
  rsaSha256: '1.2.840.113549.1.1.11',
  rsaSha384: '1.2.840.113549.1.1.12',
  rsaSha512: '1.2.840.113549.1.1.13',
  rsassaPss: '1.2.840.113549.1.1.10',
  ed25519: '1.3.101.112',
  mgf1: '1.2.840.113549.1.1.8',
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
} as const;

export type NodeHash = 'sha256' | 'sha384' | 'sha512';
export type Signer = (tbs: Uint8Array) => Uint8Array;

const asPem = (der: Uint8Array): string => encodePem(der).trimEnd();

/** `SEQUENCE { OID, parameters... }`. */
export const algorithm = (dotted: string, ...parameters: Uint8Array[]): Uint8Array => seq(oid(dotted), ...parameters);

/** A hash AlgorithmIdentifier as RFC 4055 writes it (with NULL parameters). */
export const hashAlgorithm = (dotted: string): Uint8Array => algorithm(dotted, tlv(0x05));

/** RSASSA-PSS-params `SEQUENCE { [0] hash, [1] MGF1(hash), [2] salt }` for `hash` and `salt`. */
export function pssParameters(hashOid: string, salt: number): Uint8Array {
  return seq(explicit(0, hashAlgorithm(hashOid)), explicit(1, algorithm(SIGNATURE_OID.mgf1, hashAlgorithm(hashOid))), explicit(2, integer(salt)));
}

export const spkiOfKey = (key: KeyObject): Uint8Array => new Uint8Array(key.export({ type: 'spki', format: 'der' }));

/** A certificate of `spki` named `commonName`: what signatureProblem reads of an issuer. Its own signature is never checked. */
export function issuerWith(spki: Uint8Array, commonName = 'issuer'): TrustCertificate {
  return readCertificate(asPem(certificateDer(bytes(4), { spki, subject: name(commonName) })));
}

/** A certificate claiming `signatureAlgorithm` (both copies), its signature `signer(tbs)`. */
export function signedWith(signatureAlgorithm: Uint8Array, signer: Signer): TrustCertificate {
  const parts = { innerAlgorithm: signatureAlgorithm, outerAlgorithm: signatureAlgorithm };
  const { tbs } = readCertificate(asPem(certificateDer(bytes(4), parts)));
  return readCertificate(asPem(certificateDer(bytes(4), { ...parts, signature: bitString(signer(tbs)) })));
}

export const ecdsaSigner =
  (key: KeyObject, hash: NodeHash): Signer =>
  (tbs) =>
    sign(hash, tbs, key);
/** ECDSA as `r || s`, each of the curve's size (for re-encoding). */
export const ecdsaRawSigner =
  (key: KeyObject, hash: NodeHash): Signer =>
  (tbs) =>
    sign(hash, tbs, { key, dsaEncoding: 'ieee-p1363' });
export const rsaSigner =
  (key: KeyObject, hash: NodeHash): Signer =>
  (tbs) =>
    sign(hash, tbs, key);
export const pssSigner =
  (key: KeyObject, hash: NodeHash, saltLength: number): Signer =>
  (tbs) =>
    sign(hash, tbs, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength });
export const ed25519Signer =
  (key: KeyObject): Signer =>
  (tbs) =>
    sign(null, tbs, key);
