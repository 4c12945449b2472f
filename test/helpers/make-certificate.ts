/**
 * Builds self-signed model certificates at test time (node:crypto cannot make certificates):
 * the TBSCertificate is assembled with @peculiar/asn1-x509 and signed with node:crypto, so each
 * test can have a fresh key pair and the service side (the private key) to go with it.
 */
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  Certificate,
  Extension,
  Extensions,
  GeneralName,
  Name,
  RelativeDistinguishedName,
  SubjectAlternativeName,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
  id_ce_subjectAltName,
} from '@peculiar/asn1-x509';

const OID_COMMON_NAME = '2.5.4.3';
const OID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';

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
}

export interface MadeCertificate {
  pem: string;
  /** The certificate's private key: what the service holds. */
  privateKey: KeyObject;
  /** The subject public key as an uncompressed point (65 bytes on P-256, 97 on P-384). */
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

export function makeCertificate(options: MakeCertificateOptions = {}): MadeCertificate {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: options.curve ?? 'P-256' });
  const spki = AsnConvert.parse(publicKey.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo);
  const serial = randomBytes(8);
  serial[0] = (serial[0] ?? 0) & 0x7f || 1; // positive, minimal INTEGER
  const notBefore = options.notBefore ?? new Date(Date.UTC(2025, 0, 1));
  const notAfter = options.notAfter ?? new Date(Date.UTC(2035, 0, 1));
  const dnsNames = sanDnsNames(options);
  const extensions =
    dnsNames.length === 0
      ? undefined
      : new Extensions([
          new Extension({
            extnID: id_ce_subjectAltName,
            critical: false,
            extnValue: new OctetString(
              AsnConvert.serialize(new SubjectAlternativeName(dnsNames.map((dNSName) => new GeneralName({ dNSName })))),
            ),
          }),
        ]);
  const signatureAlgorithm = new AlgorithmIdentifier({ algorithm: OID_ECDSA_WITH_SHA256 });
  const subject = name(options.commonName ?? 'ark-e2ee-test-model');
  const tbsCertificate = new TBSCertificate({
    version: Version.v3,
    serialNumber: new Uint8Array(serial).buffer,
    signature: signatureAlgorithm,
    issuer: subject,
    validity: new Validity({ notBefore, notAfter }),
    subject,
    subjectPublicKeyInfo: spki,
    extensions,
  });
  const tbsDer = new Uint8Array(AsnConvert.serialize(tbsCertificate));
  const signature = sign('sha256', tbsDer, privateKey);
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
