/**
 * Path building for the trust checks (trust.ts): from the model certificate through the
 * intermediates to a trust anchor, with a bounded cost. The certificates come from the service,
 * so they are hostile input: at most MAX_CHAIN_LENGTH deep, no CA twice on a path, each
 * (certificate, issuer key) signature checked once, at most MAX_SIGNATURE_CHECKS checks and
 * MAX_LINKS_TRIED candidate issuers per verification (OverBudget when spent). Loaded with
 * trust-check.ts (and signature.ts) on the first verification: a chunk of its own in a browser bundle.
 */
import { sameBytes } from '../protocol/der.js';
import { signatureProblem } from './signature.js';
import type { TrustCertificate } from './trust-certificate.js';
import { criticalProblem, issuerProblem, validityProblem } from './trust-problems.js';
import { MAX_CHAIN_LENGTH, MAX_SIGNATURE_CHECKS } from './trust-limits.js';

/** At most this many (certificate, candidate issuer) links looked at per verification. */
const MAX_LINKS_TRIED = 64;

export interface Failure {
  depth: number;
  message: string;
}

function deeper(best: Failure | undefined, next: Failure): Failure {
  return best === undefined || next.depth > best.depth ? next : best;
}

/** Path building ran out of its budget: the whole verification fails with this message. */
export class OverBudget extends Error {}

/** What one verification may spend, and the signature checks it already made. */
export class SearchBudget {
  signatureChecks = 0;
  linksTried = 0;
  /** child → issuer key → why `child` is not signed by that key (`undefined`: it is). */
  private readonly checked = new Map<TrustCertificate, Map<string, string | undefined>>();

  constructor(readonly nowMs: number) {}

  /** Whether `issuer`'s key signed `child`: checked once per (child, issuer key) pair. */
  async signature(child: TrustCertificate, issuer: TrustCertificate): Promise<string | undefined> {
    let byKey = this.checked.get(child);
    if (byKey === undefined) this.checked.set(child, (byKey = new Map()));
    if (byKey.has(issuer.keyId)) return byKey.get(issuer.keyId);
    if (this.signatureChecks >= MAX_SIGNATURE_CHECKS) {
      throw new OverBudget(
        `path building stopped after ${MAX_SIGNATURE_CHECKS} signature checks without reaching a trust anchor ` +
          '(the PEM offers too many candidate issuers); give the model certificate with its own chain only',
      );
    }
    this.signatureChecks++;
    const problem = await signatureProblem(child, issuer);
    byKey.set(issuer.keyId, problem);
    return problem;
  }

  link(): void {
    if (++this.linksTried > MAX_LINKS_TRIED) {
      throw new OverBudget(
        `path building stopped after looking at ${MAX_LINKS_TRIED} candidate issuers without reaching a trust ` +
          'anchor; give the model certificate with its own chain only',
      );
    }
  }
}

/**
 * A path from `chain`'s last certificate to an anchor, or the most advanced failure. Bounded:
 * at most MAX_CHAIN_LENGTH deep, no CA twice on a path (same subject and key, RFC 4158 §5.2:
 * the loop that made 16 same-named CAs cost n⁴), each (child, issuer key) signature checked
 * once, and the budget of `budget` (OverBudget thrown when spent).
 */
export async function buildPath(
  anchors: readonly TrustCertificate[],
  chain: readonly TrustCertificate[],
  pool: readonly TrustCertificate[],
  budget: SearchBudget,
): Promise<TrustCertificate[] | Failure> {
  const child = chain[chain.length - 1]!;
  const link = `link ${chain.length} ("${child.name}" issued by "${child.issuerName}")`;
  const candidates = [
    ...anchors.filter((anchor) => sameBytes(anchor.subject, child.issuer)).map((cert) => ({ cert, anchor: true })),
    ...pool
      .filter((cert) => sameBytes(cert.subject, child.issuer) && !chain.some((c) => c.identity === cert.identity))
      .map((cert) => ({ cert, anchor: false })),
  ];
  if (candidates.length === 0) {
    const selfSigned = sameBytes(child.issuer, child.subject);
    return {
      depth: chain.length,
      message: selfSigned && chain.length === 1
        ? `it is self-signed ("${child.name}") and is not one of trustAnchors`
        : `${link}: no trust anchor or intermediate is named "${child.issuerName}"` +
          (chain.length === 1 ? ' (pass the intermediate CA certificates with the intermediates option)' : ''),
    };
  }
  let best: Failure | undefined;
  for (const { cert, anchor } of candidates) {
    budget.link();
    const problem =
      (await budget.signature(child, cert)) ??
      validityProblem(cert, budget.nowMs) ??
      issuerProblem(cert, chain.length - 1) ??
      criticalProblem(cert);
    if (problem !== undefined) {
      best = deeper(best, { depth: chain.length, message: `${link}: ${problem}` });
      continue;
    }
    if (anchor) return [...chain, cert];
    if (chain.length + 2 > MAX_CHAIN_LENGTH) {
      best = deeper(best, {
        depth: chain.length,
        message: `${link}: no trust anchor within ${MAX_CHAIN_LENGTH} certificates of the model certificate`,
      });
      continue;
    }
    const found = await buildPath(anchors, [...chain, cert], pool, budget);
    if (Array.isArray(found)) return found;
    best = deeper(best, found);
  }
  return best!;
}
