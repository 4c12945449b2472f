/**
 * The CA chain the mock's GetEndpointCertificate answers with, as Ark's private CA gives it: a
 * root, a sub-CA it issued, and the model ("instance") certificate the sub-CA issued over the
 * mock service's own key pair, so that the chat endpoint can still open what is encrypted to it.
 * All P-256, ecdsa-with-SHA256, built with @peculiar/asn1-x509 and signed by node:crypto.
 */
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
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
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
  id_ce_basicConstraints,
  id_ce_keyUsage,
  id_ce_subjectAltName,
} from '@peculiar/asn1-x509';
import { AICC_KEY_PREFIX, AICC_RING_PREFIX } from '../protocol/constants.js';
import { toPem, type MockCertificate } from './certificate-authority.js';

const OID_COMMON_NAME = '2.5.4.3';
const OID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const DAY_MS = 24 * 60 * 60 * 1000;

export const MOCK_PCA_ROOT_NAME = 'ark-e2ee mock PCA root';
export const MOCK_PCA_SUB_CA_NAME = 'ark-e2ee mock PCA sub-CA';

export interface MockPcaChain {
  readonly rootPem: string;
  readonly subCaPem: string;
  /** The model certificate, issued by the sub-CA over the mock certificate's key. */
  readonly instancePem: string;
}

function nameOf(commonName: string): Name {
  return new Name([
    new RelativeDistinguishedName([
      new AttributeTypeAndValue({ type: OID_COMMON_NAME, value: new AttributeValue({ utf8String: commonName }) }),
    ]),
  ]);
}

function extension(extnID: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

interface Issue {
  subject: string;
  issuer: string;
  issuerKey: KeyObject;
  publicKey: KeyObject;
  ca: boolean;
  notBefore: Date;
  notAfter: Date;
  dnsNames?: readonly string[];
}

function issue(spec: Issue): string {
  const spki = AsnConvert.parse(spec.publicKey.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo);
  const algorithm = new AlgorithmIdentifier({ algorithm: OID_ECDSA_WITH_SHA256 });
  const serial = randomBytes(16);
  serial[0] = ((serial[0] ?? 1) & 0x7f) | 0x01;
  const usage = spec.ca
    ? KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign
    : KeyUsageFlags.digitalSignature | KeyUsageFlags.keyAgreement;
  const extensions = new Extensions([
    extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: spec.ca })),
    extension(id_ce_keyUsage, true, new KeyUsage(usage)),
  ]);
  if (spec.dnsNames && spec.dnsNames.length > 0) {
    extensions.push(extension(id_ce_subjectAltName, false, new SubjectAlternativeName(spec.dnsNames.map((dNSName) => new GeneralName({ dNSName })))));
  }
  const tbsCertificate = new TBSCertificate({
    version: Version.v3,
    serialNumber: toArrayBuffer(serial),
    signature: algorithm,
    issuer: nameOf(spec.issuer),
    validity: new Validity({ notBefore: spec.notBefore, notAfter: spec.notAfter }),
    subject: nameOf(spec.subject),
    subjectPublicKeyInfo: spki,
    extensions,
  });
  const tbs = new Uint8Array(AsnConvert.serialize(tbsCertificate));
  const signature = sign('sha256', tbs, { key: spec.issuerKey, dsaEncoding: 'der' });
  const certificate = new Certificate({ tbsCertificate, signatureAlgorithm: algorithm, signatureValue: toArrayBuffer(signature) });
  return toPem(new Uint8Array(AsnConvert.serialize(certificate)));
}

/** A fresh root and sub-CA, and a model certificate with `model`'s key, validity and AICC ids. */
export function createMockPcaChain(model: MockCertificate): MockPcaChain {
  const root = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const sub = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const notBefore = new Date(model.notBefore.getTime() - DAY_MS);
  const notAfter = new Date(model.notAfter.getTime() + DAY_MS);
  const rootPem = issue({
    subject: MOCK_PCA_ROOT_NAME, issuer: MOCK_PCA_ROOT_NAME, issuerKey: root.privateKey, publicKey: root.publicKey, ca: true, notBefore, notAfter,
  });
  const subCaPem = issue({
    subject: MOCK_PCA_SUB_CA_NAME, issuer: MOCK_PCA_ROOT_NAME, issuerKey: root.privateKey, publicKey: sub.publicKey, ca: true, notBefore, notAfter,
  });
  const instancePem = issue({
    subject: 'ark-e2ee mock model',
    issuer: MOCK_PCA_SUB_CA_NAME,
    issuerKey: sub.privateKey,
    publicKey: model.publicKey,
    ca: false,
    notBefore: model.notBefore,
    notAfter: model.notAfter,
    dnsNames: model.aicc ? [`${AICC_RING_PREFIX}${model.ringId}`, `${AICC_KEY_PREFIX}${model.keyId}`] : [],
  });
  return { rootPem, subCaPem, instancePem };
}
