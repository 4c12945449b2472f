/**
 * Builds self-signed model certificates at test time (node:crypto cannot make certificates):
 * the TBSCertificate is assembled with @peculiar/asn1-x509 and signed with node:crypto, so each
 * test can have a fresh key pair and the service side (the private key) to go with it.
 *
 * Optionally (trust tests): signed by another made certificate (`issuer`), with basicConstraints
 * (`ca`), keyUsage, an RSA or Ed25519 key, SHA-384/512 or RSASSA-PSS signatures, and extra
 * extensions.
 * Without those options the output is exactly as before.
 */
import { constants, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

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
  Name,
  RelativeDistinguishedName,
  SubjectAlternativeName,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
  id_ce_basicConstraints,
  id_ce_keyUsage,
  id_ce_subjectAltName,
} from '@peculiar/asn1-x509';

const OID_COMMON_NAME = '2.5.4.3';
const OID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const OID_ECDSA: Record<SignatureHash, string> = {
  sha256: OID_ECDSA_WITH_SHA256,
  sha384: '1.2.840.10045.4.3.3',
  sha512: '1.2.840.10045.4.3.4',
};
const OID_RSA_PKCS1: Record<SignatureHash, string> = {
  sha256: '1.2.840.113549.1.1.11',
  sha384: '1.2.840.113549.1.1.12',
  sha512: '1.2.840.113549.1.1.13',
};
const OID_HASH: Record<SignatureHash, string> = {
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
};
const OID_RSASSA_PSS = '1.2.840.113549.1.1.10';
const OID_MGF1 = '1.2.840.113549.1.1.8';
const OID_ED25519 = '1.3.101.112';
const DER_NULL = new Uint8Array([0x05, 0x00]);
const SALT_LENGTH: Record<SignatureHash, number> = { sha256: 32, sha384: 48, sha512: 64 };

export type SignatureHash = 'sha256' | 'sha384' | 'sha512';

export interface MakeCertificateOptions {
  commonName?: string;
  notBefore?: Date;
  notAfter?: Date;
  /** AICC ring id: the first SAN DNS name becomes `ring.<ringId>`. */
  ringId?: string;
  /** AICC key id: the second SAN DNS name becomes `key.<keyId>`. */
  keyId?: string;
  /** SAN DNS names as they are, in order; overrides ringId and keyId. */
  dnsNames?: readonly string[];
  curve?: 'P-256' | 'P-384';
  /** The certificate that signs this one (its subject becomes our issuer). Default: self-signed. */
  issuer?: Pick<MadeCertificate, 'pem' | 'privateKey'>;
  /**
   * A critical basicConstraints extension: `true` → cA, `{ pathLen }` → cA with a
   * pathLenConstraint, `false` → cA false. Default: no such extension.
   */
  ca?: boolean | { pathLen: number };
  /** A critical keyUsage extension with these `KeyUsageFlags` bits. Default: none. */
  keyUsage?: number;
  /** Further extensions, added as they are. */
  extensions?: readonly Extension[];
  /** The subject key: EC on `curve` (default), RSA 2048 or Ed25519. */
  keyType?: 'ec' | 'rsa' | 'ed25519';
  /** Hash of the signature (ECDSA or RSA, chosen by the signer's key). Default sha256. */
  hash?: SignatureHash;
  /** Sign with RSASSA-PSS (salt = hash length) when the signer's key is RSA. */
  rsaPss?: boolean;
  /** Use this key pair (its private half) instead of a fresh one: several certificates, one key. */
  privateKey?: KeyObject;
}

export interface MadeCertificate {
  pem: string;
  /** The certificate's private key: what the service holds. */
  privateKey: KeyObject;
  /** The subject public key as an uncompressed point (65 bytes on P-256, 97 on P-384; Ed25519: its 32 bytes). */
  publicKeyRaw: Uint8Array;
}

function toPem(der: Uint8Array): string {
  const lines = Buffer.from(der).toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

function name(commonName: string): Name {
  return new Name([
    new RelativeDistinguishedName([
      new AttributeTypeAndValue({ type: OID_COMMON_NAME, value: new AttributeValue({ utf8String: commonName }) }),
    ]),
  ]);
}

function sanDnsNames(options: MakeCertificateOptions): string[] {
  if (options.dnsNames !== undefined) return [...options.dnsNames];
  const names: string[] = [];
  if (options.ringId !== undefined) names.push(`ring.${options.ringId}`);
  if (options.keyId !== undefined) names.push(`key.${options.keyId}`);
  return names;
}

/** DER `[n] EXPLICIT` around `inner`. */
function explicit(n: number, inner: Uint8Array): Uint8Array {
  return new Uint8Array([0xa0 + n, inner.length, ...inner]);
}

function algorithmDer(algorithm: string, parameters?: Uint8Array): Uint8Array {
  const identifier = new AlgorithmIdentifier({ algorithm, parameters: parameters ? new Uint8Array(parameters).buffer : undefined });
  return new Uint8Array(AsnConvert.serialize(identifier));
}

/** RSASSA-PSS-params: hash, MGF1 with the same hash, salt = hash length (RFC 4055). */
function pssParameters(hash: SignatureHash): Uint8Array {
  const hashAlgorithm = algorithmDer(OID_HASH[hash], DER_NULL);
  const content = [
    ...explicit(0, hashAlgorithm),
    ...explicit(1, algorithmDer(OID_MGF1, hashAlgorithm)),
    ...explicit(2, new Uint8Array([0x02, 0x01, SALT_LENGTH[hash]])),
  ];
  return new Uint8Array([0x30, content.length, ...content]);
}

/** The signature algorithm and the node:crypto signing call for a signer's key. */
function signerFor(key: KeyObject, options: MakeCertificateOptions): { algorithm: AlgorithmIdentifier; sign: (tbs: Uint8Array) => Buffer } {
  const hash = options.hash ?? 'sha256';
  if (key.asymmetricKeyType === 'rsa') {
    if (options.rsaPss) {
      return {
        algorithm: new AlgorithmIdentifier({ algorithm: OID_RSASSA_PSS, parameters: new Uint8Array(pssParameters(hash)).buffer }),
        sign: (tbs) => sign(hash, tbs, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: SALT_LENGTH[hash] }),
      };
    }
    return {
      algorithm: new AlgorithmIdentifier({ algorithm: OID_RSA_PKCS1[hash], parameters: DER_NULL.slice().buffer }),
      sign: (tbs) => sign(hash, tbs, key),
    };
  }
  // Ed25519 hashes inside the signature: no hash option, and the AlgorithmIdentifier has no parameters (RFC 8410).
  if (key.asymmetricKeyType === 'ed25519') return { algorithm: new AlgorithmIdentifier({ algorithm: OID_ED25519 }), sign: (tbs) => sign(null, tbs, key) };
  return { algorithm: new AlgorithmIdentifier({ algorithm: OID_ECDSA[hash] }), sign: (tbs) => sign(hash, tbs, key) };
}

function pemToDer(pem: string): Uint8Array {
  return new Uint8Array(Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64'));
}

function trustExtensions(options: MakeCertificateOptions): Extension[] {
  const out: Extension[] = [];
  if (options.ca !== undefined) {
    const constraints =
      typeof options.ca === 'object'
        ? new BasicConstraints({ cA: true, pathLenConstraint: options.ca.pathLen })
        : new BasicConstraints({ cA: options.ca });
    out.push(new Extension({ extnID: id_ce_basicConstraints, critical: true, extnValue: new OctetString(AsnConvert.serialize(constraints)) }));
  }
  if (options.keyUsage !== undefined) {
    out.push(new Extension({ extnID: id_ce_keyUsage, critical: true, extnValue: new OctetString(AsnConvert.serialize(new KeyUsage(options.keyUsage))) }));
  }
  return [...out, ...(options.extensions ?? [])];
}

export function makeCertificate(options: MakeCertificateOptions = {}): MadeCertificate {
  const { privateKey, publicKey } = options.privateKey
    ? { privateKey: options.privateKey, publicKey: createPublicKey(options.privateKey) }
    : options.keyType === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : options.keyType === 'ed25519'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('ec', { namedCurve: options.curve ?? 'P-256' });
  const spki = AsnConvert.parse(publicKey.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo);
  const serial = randomBytes(8);
  serial[0] = (serial[0] ?? 0) & 0x7f || 1; // positive, minimal INTEGER
  const notBefore = options.notBefore ?? new Date(Date.UTC(2025, 0, 1));
  const notAfter = options.notAfter ?? new Date(Date.UTC(2035, 0, 1));
  const dnsNames = sanDnsNames(options);
  const sanExtensions =
    dnsNames.length === 0
      ? []
      : [
          new Extension({
            extnID: id_ce_subjectAltName,
            critical: false,
            extnValue: new OctetString(
              AsnConvert.serialize(new SubjectAlternativeName(dnsNames.map((dNSName) => new GeneralName({ dNSName })))),
            ),
          }),
        ];
  const allExtensions = [...sanExtensions, ...trustExtensions(options)];
  const extensions = allExtensions.length === 0 ? undefined : new Extensions(allExtensions);
  const signer = signerFor(options.issuer?.privateKey ?? privateKey, options);
  const signatureAlgorithm = signer.algorithm;
  const subject = name(options.commonName ?? 'ark-e2ee-test-model');
  const issuer = options.issuer
    ? AsnConvert.parse(pemToDer(options.issuer.pem), Certificate).tbsCertificate.subject
    : subject;
  const tbsCertificate = new TBSCertificate({
    version: Version.v3,
    serialNumber: new Uint8Array(serial).buffer,
    signature: signatureAlgorithm,
    issuer,
    validity: new Validity({ notBefore, notAfter }),
    subject,
    subjectPublicKeyInfo: spki,
    extensions,
  });
  const tbsDer = new Uint8Array(AsnConvert.serialize(tbsCertificate));
  const signature = signer.sign(tbsDer);
  const certificate = new Certificate({
    tbsCertificate,
    signatureAlgorithm,
    signatureValue: new Uint8Array(signature).buffer,
  });
  return {
    pem: toPem(new Uint8Array(AsnConvert.serialize(certificate))),
    privateKey,
    publicKeyRaw: new Uint8Array(spki.subjectPublicKey),
  };
}
