/**
 * What the trust checks (trust.ts) need before any chain is built: the bounds of path building,
 * the span in which a verdict holds, WebCrypto and the key pin. Kept apart from trust-check.ts,
 * trust-path.ts and signature.ts so that those load only on the first verification (a separate
 * chunk in a browser bundle).
 */
import { InvalidCertificateError } from '../errors.js';
import { encodeBase64 } from '../crypto/base64.js';
import type { TrustCertificate } from './trust-certificate.js';

/** At most this many certificates from the model's to the anchor, both included. */
export const MAX_CHAIN_LENGTH = 5;
/**
 * At most this many CERTIFICATE blocks are read from the model's PEM (the model certificate and
 * the intermediates it brings): a chain needs at most MAX_CHAIN_LENGTH - 1 of them, the rest is
 * room for an alternative path or two. Anything longer is not a chain, and reading it costs.
 */
export const MAX_PEM_CERTIFICATES = 8;

/**
 * At most this many signature checks per verification. A chain of MAX_CHAIN_LENGTH takes 4, a
 * few decoys or cross-certificates a few more; a bundle built to make path building explode
 * (many certificates of one name) is refused once the budget is spent, in milliseconds.
 */
export const MAX_SIGNATURE_CHECKS = 16;

export function subtle(): SubtleCrypto {
  const crypto = (globalThis as { crypto?: { subtle?: SubtleCrypto } }).crypto;
  if (crypto?.subtle === undefined) {
    throw new InvalidCertificateError(
      'checking trustAnchors or pinnedKeys needs WebCrypto (globalThis.crypto.subtle), which this runtime does not have',
    );
  }
  return crypto.subtle;
}

/** base64 SHA-256 of `spki`. */
export async function pinOf(spki: Uint8Array): Promise<string> {
  const digest = await subtle().digest('SHA-256', new Uint8Array(spki));
  return encodeBase64(new Uint8Array(digest));
}

/**
 * The span around `nowMs` in which no certificate of `certificates` becomes valid or expires.
 * Time enters a verification only through those comparisons, so a failure at `nowMs` is the
 * same failure anywhere in this span.
 */
export function steadySpan(certificates: readonly TrustCertificate[], nowMs: number): { fromMs: number; untilMs: number } {
  let fromMs = Number.NEGATIVE_INFINITY;
  let untilMs = Number.POSITIVE_INFINITY;
  for (const certificate of certificates) {
    // Valid exactly for notBefore <= now <= notAfter: changes happen at notBefore and notAfter + 1.
    for (const edge of [certificate.notBefore.getTime(), certificate.notAfter.getTime() + 1]) {
      if (edge <= nowMs) fromMs = Math.max(fromMs, edge);
      else untilMs = Math.min(untilMs, edge);
    }
  }
  return { fromMs, untilMs };
}
