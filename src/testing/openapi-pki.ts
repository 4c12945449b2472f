/**
 * The CA chain the mock's GetEndpointCertificate answers with, as Ark's private CA gives it: a
 * root, a sub-CA it issued, and the model ("instance") certificate the sub-CA issued over the
 * mock service's own key pair, so that the chat endpoint can still open what is encrypted to it.
 * All P-256, ecdsa-with-SHA256, built with @peculiar/asn1-x509 and signed by node:crypto.
 */
import { generateKeyPairSync } from 'node:crypto';
import { AICC_KEY_PREFIX, AICC_RING_PREFIX } from '../protocol/constants.js';
import { issueCertificate, toPem, MOCK_CERTIFICATE_SUBJECT, type CertificateIssue, type MockCertificate } from './certificate-authority.js';

const DAY_MS = 24 * 60 * 60 * 1000;

export const MOCK_PCA_ROOT_NAME = 'ark-e2ee mock PCA root';
export const MOCK_PCA_SUB_CA_NAME = 'ark-e2ee mock PCA sub-CA';

export interface MockPcaChain {
  readonly rootPem: string;
  readonly subCaPem: string;
  /** The model certificate, issued by the sub-CA over the mock certificate's key. */
  readonly instancePem: string;
}

function issue(spec: CertificateIssue): string {
  return toPem(issueCertificate(spec));
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
    subject: MOCK_CERTIFICATE_SUBJECT,
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
