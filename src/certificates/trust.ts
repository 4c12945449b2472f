/**
 * Trust in the model's certificate (protocol §7): the certificate comes over the same connection
 * as the chat, so whoever terminates TLS could hand out their own. Two independent checks, either
 * or both, decided by the caller:
 *
 * - `pinnedKeys`: base64 SHA-256 of the model certificate's SubjectPublicKeyInfo (DER, as encoded
 *   in the certificate; the value `ark-e2ee cert MODEL` shows as "pin"). The certificate's key
 *   must be one of them.
 * - `trustAnchors`: PEM root certificates. The model certificate must chain to one of them, through
 *   the extra CERTIFICATE blocks of its own PEM and the configured `intermediates`: each link's
 *   issuer name DER-equal to the next one's subject, its signature verified, every certificate
 *   valid now, every issuer a CA (basicConstraints cA, keyCertSign when keyUsage is present,
 *   pathLenConstraint honoured), no unknown critical extension, at most 5 certificates.
 *
 * Runtime-neutral: certificates read in trust-certificate.ts (the library's narrow X.509 reader,
 * protocol/x509.ts), signatures and SHA-256 with WebCrypto (signature.ts), the path built with
 * a bounded cost (trust-path.ts). The checks themselves (trust-check.ts, with trust-path.ts and
 * signature.ts) load on the first verification; the settings are read here, when the client is
 * made. No `node:` module.
 */
import { CertificateUnavailableError, InvalidCertificateError } from '../errors.js';
import { decodeBase64, encodeBase64 } from '../crypto/base64.js';
import { PEM_CERTIFICATE_BEGIN } from '../protocol/pem.js';
import { readCertificate, splitPemCertificates, type TrustCertificate } from './trust-certificate.js';
import type { TrustChecks } from './trust-check.js';
import { pinOf, subtle } from './trust-limits.js';

export { splitPemCertificates } from './trust-certificate.js';
export { MAX_CHAIN_LENGTH, MAX_PEM_CERTIFICATES, MAX_SIGNATURE_CHECKS } from './trust-limits.js';

/**
 * The checks themselves (trust-check.ts, with path building and signature checks), loaded on the
 * first verification: most programs set no trustAnchors or pinnedKeys, and a browser bundle keeps
 * this code in a chunk of its own. A load that fails is not remembered, so the next verification
 * tries again.
 */
let checkCode: Promise<typeof import('./trust-check.js')> | undefined;

async function loadCheckCode(): Promise<typeof import('./trust-check.js')> {
  checkCode ??= import('./trust-check.js');
  try {
    return await checkCode;
  } catch (cause) {
    checkCode = undefined;
    throw new CertificateUnavailableError(
      `the certificate trust check could not load its code (${(cause as Error).message}); nothing was sent. ` +
        'The next request tries to load it again; if this persists, check that every chunk of the application bundle is served',
      { cause },
    );
  }
}

/** The trust settings of `ArkEncryptionOptions`. */
export interface TrustOptions {
  /**
   * PEM root certificates the model certificate must chain to. One string may hold several
   * CERTIFICATE blocks; other PEM blocks (keys…) are ignored.
   */
  trustAnchors?: string | readonly string[] | undefined;
  /** Base64 SHA-256 of the model certificate's SubjectPublicKeyInfo DER (`sha256/` prefix allowed). */
  pinnedKeys?: readonly string[] | undefined;
  /** Extra intermediate CA certificates (PEM) to build the chain with; needs `trustAnchors`. */
  intermediates?: string | readonly string[] | undefined;
}

/** What a successful verification found. */
export interface TrustVerdict {
  /** The model certificate's key pin: base64 SHA-256 of its SubjectPublicKeyInfo. */
  readonly pin: string;
  /** Subjects from the model certificate to the anchor; only the model's when only pins are set. */
  readonly chain: readonly string[];
  /** The span in which every certificate of the chain is valid (ms since the epoch). */
  readonly validFromMs: number;
  readonly validUntilMs: number;
}

const PIN_BYTES = 32;
const MEMO_SIZE = 64;

/** Every CERTIFICATE block of `option` (a PEM text or a list of them), read; config errors thrown. */
function readOption(option: string | readonly string[] | undefined, what: string): TrustCertificate[] | undefined {
  if (option === undefined) return undefined;
  const texts = typeof option === 'string' ? [option] : option;
  if (!Array.isArray(texts) || texts.some((text) => typeof text !== 'string')) {
    throw new InvalidCertificateError(`${what} must be a PEM string or an array of PEM strings`);
  }
  const blocks = texts.flatMap((text) => splitPemCertificates(text));
  if (blocks.length === 0) {
    throw new InvalidCertificateError(
      `${what} holds no '${PEM_CERTIFICATE_BEGIN}' block: give PEM certificates, or leave ${what} out`,
    );
  }
  return blocks.map((block, index) => {
    try {
      return readCertificate(block);
    } catch (cause) {
      throw new InvalidCertificateError(
        `${what}: certificate ${index + 1} is not a DER X.509 certificate (${(cause as Error).message})`,
        { cause },
      );
    }
  });
}

function readPins(option: readonly string[] | undefined): Set<string> | undefined {
  if (option === undefined) return undefined;
  if (!Array.isArray(option)) throw new InvalidCertificateError('pinnedKeys must be an array of base64 SHA-256 pins');
  if (option.length === 0) {
    throw new InvalidCertificateError('pinnedKeys is empty: give at least one pin, or leave pinnedKeys out');
  }
  const pins = new Set<string>();
  for (const raw of option) {
    const pin = typeof raw === 'string' ? raw.trim().replace(/^sha256\//i, '') : '';
    const bytes = decodeBase64(pin);
    if (bytes === undefined || bytes.length !== PIN_BYTES) {
      throw new InvalidCertificateError(
        `pinnedKeys: ${JSON.stringify(raw)} is not a base64 SHA-256 digest (44 characters ending in '='); ` +
          '`ark-e2ee cert MODEL` shows the pin of a model certificate',
      );
    }
    pins.add(pin);
  }
  return pins;
}

/** The public key pin of the first certificate of a PEM text: base64 SHA-256 of its SPKI DER. */
export async function certificateKeyPin(pem: string): Promise<string> {
  const [first] = splitPemCertificates(pem);
  if (first === undefined) throw new InvalidCertificateError(`no '${PEM_CERTIFICATE_BEGIN}' block`);
  let certificate: TrustCertificate;
  try {
    certificate = readCertificate(first);
  } catch (cause) {
    throw new InvalidCertificateError(`not a DER X.509 certificate (${(cause as Error).message})`, { cause });
  }
  return pinOf(certificate.spki);
}

/** A remembered outcome for one PEM text: a verdict, or why it failed and while that holds. */
export type Remembered =
  | { verdict: TrustVerdict }
  | { why: string; fromMs: number; untilMs: number };

/** The configured checks; `CertificateTrust.from` gives `undefined` when nothing is configured. */
export class CertificateTrust {
  /** By SHA-256 of the PEM text (a PEM can be up to a megabyte; its digest is 44 characters). */
  private readonly memo = new Map<string, Remembered>();

  private constructor(private readonly checks: TrustChecks) {}

  /**
   * The checks `options` ask for, or `undefined` when they ask for none. Throws
   * `InvalidCertificateError` for settings that cannot be right (an anchor that is not a
   * certificate, an empty list, a pin that is not a SHA-256 digest, intermediates without anchors).
   */
  static from(options: TrustOptions): CertificateTrust | undefined {
    if (Array.isArray(options.trustAnchors) && options.trustAnchors.length === 0) {
      throw new InvalidCertificateError('trustAnchors is empty: give at least one root certificate, or leave trustAnchors out');
    }
    const anchors = readOption(options.trustAnchors, 'trustAnchors');
    const pins = readPins(options.pinnedKeys);
    const intermediates = readOption(options.intermediates, 'intermediates') ?? [];
    if (intermediates.length > 0 && anchors === undefined) {
      throw new InvalidCertificateError('intermediates are set without trustAnchors, so they would not be used: set trustAnchors too');
    }
    if (anchors === undefined && pins === undefined) return undefined;
    return new CertificateTrust({ anchors, intermediates, pins });
  }

  /**
   * Checks the model certificate `pem` (its first CERTIFICATE block; further blocks are
   * intermediates) at `nowMs`. Throws `InvalidCertificateError` naming `subject` and what failed.
   * The outcome is remembered for this PEM text: a success while its chain is valid, a failure
   * until a certificate involved becomes valid or expires; either way a retry costs no signature check.
   */
  async verify(pem: string, nowMs: number, subject: string): Promise<TrustVerdict> {
    const key = encodeBase64(new Uint8Array(await subtle().digest('SHA-256', new TextEncoder().encode(pem))));
    const remembered = this.memo.get(key);
    if (remembered !== undefined) {
      if ('verdict' in remembered) {
        const { verdict } = remembered;
        if (verdict.validFromMs <= nowMs && nowMs <= verdict.validUntilMs) return verdict;
      } else if (remembered.fromMs <= nowMs && nowMs < remembered.untilMs) {
        throw notTrusted(subject, remembered.why);
      }
    }
    const { evaluateTrust } = await loadCheckCode();
    const outcome = await evaluateTrust(this.checks, pem, nowMs);
    if (this.memo.size >= MEMO_SIZE) this.memo.delete(this.memo.keys().next().value!);
    this.memo.set(key, outcome);
    if ('verdict' in outcome) return outcome.verdict;
    throw notTrusted(subject, outcome.why);
  }
}

function notTrusted(subject: string, why: string): InvalidCertificateError {
  return new InvalidCertificateError(`${subject} is not trusted: ${why}; nothing was sent`);
}
