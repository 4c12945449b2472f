/**
 * The trust checks themselves (trust.ts decides when they run and remembers their outcome): the
 * pin, then the leaf's own checks and the path to an anchor (trust-path.ts). Loaded on the first
 * verification, with trust-path.ts and signature.ts: a program without pinnedKeys or trustAnchors
 * never loads it, and a browser bundle keeps it in a chunk of its own.
 */
import { encodeBase64 } from '../crypto/base64.js';
import { sameBytes } from '../protocol/der.js';
import { PEM_CERTIFICATE_BEGIN } from '../protocol/pem.js';
import { readCertificate, splitPemCertificates, type TrustCertificate } from './trust-certificate.js';
import { MAX_CHAIN_LENGTH, MAX_PEM_CERTIFICATES, pinOf, steadySpan } from './trust-limits.js';
import { OverBudget, SearchBudget, buildPath, type Failure } from './trust-path.js';
import { criticalProblem, leafUsageProblem, validityProblem } from './trust-problems.js';
import type { Remembered } from './trust.js';

/** The configured checks of one CertificateTrust. */
export interface TrustChecks {
  readonly anchors: readonly TrustCertificate[] | undefined;
  readonly intermediates: readonly TrustCertificate[];
  readonly pins: ReadonlySet<string> | undefined;
}

/** The checks of `checks` on the model certificate `pem` at `nowMs`, once per PEM text and time span. */
export async function evaluateTrust(checks: TrustChecks, pem: string, nowMs: number): Promise<Remembered> {
  const blocks = splitPemCertificates(pem);
  const never = { fromMs: Number.NEGATIVE_INFINITY, untilMs: Number.POSITIVE_INFINITY };
  if (blocks.length === 0) return { why: `it holds no '${PEM_CERTIFICATE_BEGIN}' block`, ...never };
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
    steadySpan([...certificates, ...checks.intermediates, ...(checks.anchors ?? [])], nowMs);
  const pin = await pinOf(leaf.spki);
  if (checks.pins !== undefined && !checks.pins.has(pin)) {
    return {
      why: `its public key pin is "${pin}", which is not in pinnedKeys (${checks.pins.size} pin(s)). ` +
        'If the model key was changed on purpose, add this pin to pinnedKeys',
      ...never,
    };
  }
  let chain: readonly TrustCertificate[] = [leaf];
  if (checks.anchors !== undefined) {
    const leafProblem = validityProblem(leaf, nowMs) ?? leafUsageProblem(leaf) ?? criticalProblem(leaf);
    if (leafProblem !== undefined) return { why: leafProblem, ...steady() };
    if (!checks.anchors.some((anchor) => sameBytes(anchor.der, leaf.der))) {
      // Each distinct certificate once: a PEM that repeats one adds nothing to try. The leaf may
      // be among them; path building never offers a certificate of the chain as its own issuer.
      const pool = new Map<string, TrustCertificate>();
      for (const certificate of [...bundled, ...checks.intermediates]) pool.set(encodeBase64(certificate.der), certificate);
      let found: TrustCertificate[] | Failure;
      try {
        found = await buildPath(checks.anchors, [leaf], [...pool.values()], new SearchBudget(nowMs));
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
