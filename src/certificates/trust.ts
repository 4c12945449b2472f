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
 * a bounded cost (trust-path.ts, loaded on the first chain check). No `node:` module.
 */
import { CertificateUnavailableError, InvalidCertificateError } from '../errors.js';
import { decodeBase64, encodeBase64 } from '../crypto/base64.js';
import { sameBytes } from '../protocol/der.js';
import { PEM_CERTIFICATE_BEGIN } from '../protocol/pem.js';
import {
  criticalProblem,
  leafUsageProblem,
  readCertificate,
  splitPemCertificates,
  validityProblem,
  type TrustCertificate,
} from './trust-certificate.js';
import { MAX_CHAIN_LENGTH, pinOf, steadySpan, subtle } from './trust-limits.js';
import type { Failure } from './trust-path.js';

export { splitPemCertificates } from './trust-certificate.js';
export { MAX_CHAIN_LENGTH, MAX_SIGNATURE_CHECKS } from './trust-limits.js';

/**
 * Path building and signature checks, loaded on the first chain check: most programs set no
 * trustAnchors, and a browser bundle keeps this code in a chunk of its own. A load that fails
 * is not remembered, so the next verification tries again.
 */
let pathCode: Promise<typeof import('./trust-path.js')> | undefined;

async function loadPathCode(): Promise<typeof import('./trust-path.js')> {
  pathCode ??= import('./trust-path.js');
  try {
    return await pathCode;
  } catch (cause) {
    pathCode = undefined;
    throw new CertificateUnavailableError(
      `the certificate chain check could not load its code (${(cause as Error).message}); nothing was sent. ` +
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

/**
 * At most this many CERTIFICATE blocks are read from the model's PEM (the model certificate and
 * the intermediates it brings): a chain needs at most MAX_CHAIN_LENGTH - 1 of them, the rest is
 * room for an alternative path or two. Anything longer is not a chain, and reading it costs.
 */
export const MAX_PEM_CERTIFICATES = 8;
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
type Remembered =
  | { verdict: TrustVerdict }
  | { why: string; fromMs: number; untilMs: number };

/** The configured checks; `CertificateTrust.from` gives `undefined` when nothing is configured. */
export class CertificateTrust {
  /** By SHA-256 of the PEM text (a PEM can be up to a megabyte; its digest is 44 characters). */
  private readonly memo = new Map<string, Remembered>();

  private constructor(
    private readonly anchors: readonly TrustCertificate[] | undefined,
    private readonly intermediates: readonly TrustCertificate[],
    private readonly pins: ReadonlySet<string> | undefined,
  ) {}

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
    const intermediates = options.intermediates === undefined ? [] : (readOption(options.intermediates, 'intermediates') ?? []);
    if (intermediates.length > 0 && anchors === undefined) {
      throw new InvalidCertificateError('intermediates are set without trustAnchors, so they would not be used: set trustAnchors too');
    }
    if (anchors === undefined && pins === undefined) return undefined;
    return new CertificateTrust(anchors, intermediates, pins);
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
    const outcome = await this.evaluate(pem, nowMs);
    if (this.memo.size >= MEMO_SIZE) this.memo.delete(this.memo.keys().next().value!);
    this.memo.set(key, outcome);
    if ('verdict' in outcome) return outcome.verdict;
    throw notTrusted(subject, outcome.why);
  }

  /** The checks themselves, once per PEM text and time span. */
  private async evaluate(pem: string, nowMs: number): Promise<Remembered> {
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
      steadySpan([...certificates, ...this.intermediates, ...(this.anchors ?? [])], nowMs);
    const pin = await pinOf(leaf.spki);
    if (this.pins !== undefined && !this.pins.has(pin)) {
      return {
        why: `its public key pin is "${pin}", which is not in pinnedKeys (${this.pins.size} pin(s)). ` +
          'If the model key was changed on purpose, add this pin to pinnedKeys',
        ...never,
      };
    }
    let chain: readonly TrustCertificate[] = [leaf];
    if (this.anchors !== undefined) {
      const leafProblem = validityProblem(leaf, nowMs) ?? leafUsageProblem(leaf) ?? criticalProblem(leaf);
      if (leafProblem !== undefined) return { why: leafProblem, ...steady() };
      if (!this.anchors.some((anchor) => sameBytes(anchor.der, leaf.der))) {
        // Each distinct certificate once: a PEM that repeats one adds nothing to try.
        const pool = new Map<string, TrustCertificate>();
        for (const certificate of [...bundled, ...this.intermediates]) {
          if (!sameBytes(certificate.der, leaf.der)) pool.set(encodeBase64(certificate.der), certificate);
        }
        const { OverBudget, SearchBudget, buildPath } = await loadPathCode();
        let found: TrustCertificate[] | Failure;
        try {
          found = await buildPath(this.anchors, [leaf], [...pool.values()], new SearchBudget(nowMs));
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
}

function notTrusted(subject: string, why: string): InvalidCertificateError {
  return new InvalidCertificateError(`${subject} is not trusted: ${why}; nothing was sent`);
}
