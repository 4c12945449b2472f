/**
 * The per-certificate refusals of a trust check (validity, the leaf's key usage, CA constraints,
 * unknown critical extensions), as messages. Used only when a certificate is checked against
 * trustAnchors (trust-check.ts, trust-path.ts): loaded with them, on the first check.
 */
import { KEY_USAGE, describeKeyUsage } from '../protocol/x509-extensions.js';
import type { TrustCertificate } from './trust-certificate.js';

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
  if ((leaf.keyUsage & (KEY_USAGE.keyAgreement | KEY_USAGE.digitalSignature)) !== 0) return undefined;
  return (
    `the model certificate's keyUsage ${describeKeyUsage(leaf.keyUsage)} allows neither keyAgreement ` +
    'nor digitalSignature, so it is not meant for the key agreement the protocol does'
  );
}

export function issuerProblem(issuer: TrustCertificate, intermediatesBelow: number): string | undefined {
  const constraints = issuer.basicConstraints;
  if (constraints?.ca !== true) {
    return `"${issuer.name}" issued a certificate but is not a CA certificate (no basicConstraints cA=true)`;
  }
  if (issuer.keyUsage !== undefined && (issuer.keyUsage & KEY_USAGE.keyCertSign) === 0) {
    return `"${issuer.name}" issued a certificate but its keyUsage lacks keyCertSign`;
  }
  const pathLen = constraints.pathLength ?? Number.POSITIVE_INFINITY;
  if (intermediatesBelow > pathLen) {
    return `"${issuer.name}" allows ${pathLen} intermediate CA(s) below it (pathLenConstraint), the chain has ${intermediatesBelow}`;
  }
  return undefined;
}

export function criticalProblem(certificate: TrustCertificate): string | undefined {
  return certificate.unknownCritical === undefined
    ? undefined
    : `"${certificate.name}" has a critical extension this library does not process: ${certificate.unknownCritical}`;
}
