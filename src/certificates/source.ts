/**
 * Where a model's certificate comes from (protocol §1): the caller's option, then memory, then
 * the disk cache, then the certificate service. One service fetch per model and mode however
 * many requests wait for it; reloaded after 14 days; an expired or not-yet-valid certificate is
 * fetched once more, then refused.
 *
 * With `trust` (trustAnchors / pinnedKeys, see trust.ts) every certificate, whatever its source,
 * is verified before it is used or kept: one that fails is never cached (a cached file that fails
 * is fetched afresh and replaced) and the request fails with `InvalidCertificateError`.
 *
 * The memory cache is keyed by (mode, base URL, model) and holds at most `maxEntries` of them,
 * the least recently used dropped first; a PEM is parsed once and its object shared by every
 * model it serves (a gateway or the mock gives one certificate for all models).
 *
 * A PEM with several CERTIFICATE blocks is the model's certificate (the first block) followed by
 * intermediates: the first block is parsed, the whole text is kept (and cached) so the chain can
 * be built again. `parseCertificate` itself still takes exactly one block.
 */
import { CertificateUnavailableError, InvalidCertificateError } from '../errors.js';
import { parseCertificate, type ModelCertificate } from '../protocol/certificate.js';
import { CERTIFICATE_PATH, CERTIFICATE_RELOAD_MS } from '../protocol/constants.js';
import { LruMap } from '../protocol/lru-map.js';
import type { CachedCertificate, CertificateStore } from './disk-cache.js';
import { fetchCertificatePem, type CertificateHttp } from './service.js';
import { splitPemCertificates, type CertificateTrust } from './trust.js';
import { raceAbort } from '../race-abort.js';

/** A PEM for every model, or a function of the model name that gives one. */
export type CertificateOption = string | ((model: string) => string | Promise<string>);

export interface CertificateSourceOptions {
  certificate?: CertificateOption;
  store?: CertificateStore;
  /** Whether certificates of this base URL go to `store`; default: all do. */
  storesFor?: (baseUrl: string) => boolean;
  http: CertificateHttp;
  /** Fetches the PEM instead of the certificate service (the access-key path); default: the service. */
  fetchPem?: ((need: CertificateNeed, signal: AbortSignal) => Promise<string>) | undefined;
  /** Abort a service fetch that takes longer than this (ms). */
  timeoutMs?: number;
  now?: () => number;
  /** trustAnchors / pinnedKeys checks (`CertificateTrust.from`); none when undefined. */
  trust?: CertificateTrust | undefined;
  /** Certificates held in memory, by (mode, base URL, model); default 1000. */
  maxEntries?: number;
  /** What `certificate` is, for messages and `lookup`: default "the certificate option". */
  optionLabel?: string;
}

export const DEFAULT_CERTIFICATE_CACHE_SIZE = 1000;

/** Where a certificate came from (what `ark-e2ee cert` reports). */
export type CertificateFrom =
  | { kind: 'option'; label: string }
  | { kind: 'memory' }
  | { kind: 'cache'; file: string }
  /** `file`: where it was stored, if it was. */
  | { kind: 'service'; url: string; file: string | undefined };

export interface CertificateLookup {
  certificate: ModelCertificate;
  from: CertificateFrom;
}

export interface CertificateNeed {
  model: string;
  aicc: boolean;
  baseUrl: string;
  authorization: string | undefined;
  signal?: AbortSignal | null | undefined;
}

interface MemoryEntry {
  certificate: ModelCertificate;
  loadedMs: number;
  /** End of the verified chain's validity (its earliest notAfter); Infinity without trust. */
  trustedUntilMs: number;
}

/** A shared fetch, aborted only when every request waiting on it has given up. */
interface Flight {
  promise: Promise<CertificateLookup>;
  controller: AbortController;
  waiters: number;
}

function usableIn(cert: ModelCertificate, aicc: boolean): boolean {
  // A certificate counts only if it matches the mode: AICC needs both ids, plain needs neither.
  return aicc ? cert.isAICC : cert.ringId === '' && cert.keyId === '';
}

function validAt(cert: ModelCertificate, nowMs: number): boolean {
  return cert.notBefore.getTime() <= nowMs && nowMs <= cert.notAfter.getTime();
}

/**
 * The model certificate of a PEM text: its only CERTIFICATE block, or the first of several (the
 * others being intermediates, kept in `pem` for the trust checks and the cache).
 */
export function parseModelCertificate(pem: string): ModelCertificate {
  // Stryker disable next-line ArrayDeclaration: for a PEM that is not a string, one block or none both lead to parseCertificate(pem), which refuses it
  const blocks = typeof pem === 'string' ? splitPemCertificates(pem) : [];
  if (blocks.length <= 1) return parseCertificate(pem);
  return Object.freeze({ ...parseCertificate(blocks[0]!), pem });
}


const PARSED_PEMS_KEPT = 16;

export class CertificateSource {
  private readonly memory: LruMap<string, MemoryEntry>;
  private readonly flights = new Map<string, Flight>();
  /**
   * PEMs parsed lately (the option, E2E_CERTIFICATE_PATH read afresh, the cache, the service):
   * parsing costs ~0.5 ms and one PEM often serves every model. One object per certificate
   * also keeps per-certificate caches (the noble tables, the session pool) warm.
   */
  private readonly parsed = new LruMap<string, ModelCertificate>(PARSED_PEMS_KEPT);
  private readonly now: () => number;

  constructor(private readonly options: CertificateSourceOptions) {
    this.now = options.now ?? Date.now;
    this.memory = new LruMap(options.maxEntries ?? DEFAULT_CERTIFICATE_CACHE_SIZE, 'certificateCacheSize');
  }

  /** The certificate for `need.model` in `need.aicc` mode. */
  async get(need: CertificateNeed): Promise<ModelCertificate> {
    return (await this.lookup(need)).certificate;
  }

  /** Certificates held in memory now. */
  get memorySize(): number {
    return this.memory.size;
  }

  /** The file the disk cache keeps `model`'s certificate from `baseUrl` in, if it keeps it. */
  cacheFileFor(baseUrl: string, model: string): string | undefined {
    return this.storeFor(baseUrl)?.fileFor(baseUrl, model);
  }

  /** The disk cache's file for `model` from `baseUrl`, as it is (stale or not), with the read checks. */
  async readCache(baseUrl: string, model: string): Promise<CachedCertificate | undefined> {
    return this.storeFor(baseUrl)?.read(baseUrl, model);
  }

  /** The certificate for `need.model` in `need.aicc` mode, and where it came from. */
  async lookup(need: CertificateNeed): Promise<CertificateLookup> {
    if (need.signal?.aborted) throw need.signal.reason;
    if (this.options.certificate !== undefined) return this.fromOption(need);
    const key = `${need.aicc ? 'aicc' : 'plain'}\n${need.baseUrl}\n${need.model}`;
    const cached = this.memory.get(key);
    if (
      cached &&
      this.now() - cached.loadedMs < CERTIFICATE_RELOAD_MS &&
      validAt(cached.certificate, this.now()) &&
      this.now() <= cached.trustedUntilMs
    ) {
      return { certificate: cached.certificate, from: { kind: 'memory' } };
    }
    let flight = this.flights.get(key);
    if (!flight) {
      const controller = new AbortController();
      flight = { controller, waiters: 0, promise: this.load(key, need, controller.signal) };
      this.flights.set(key, flight);
      const forget = (): void => {
        if (this.flights.get(key) === started) this.flights.delete(key);
      };
      const started = flight;
      flight.promise.then(forget, forget);
    }
    return this.wait(key, flight, need.signal);
  }

  /** Forgets every certificate held in memory (the disk cache is left as it is). */
  clear(): void {
    this.memory.clear();
    this.parsed.clear();
  }

  private storeFor(baseUrl: string): CertificateStore | undefined {
    const { storesFor } = this.options;
    return storesFor === undefined || storesFor(baseUrl) ? this.options.store : undefined;
  }

  private async wait(key: string, flight: Flight, signal: AbortSignal | null | undefined): Promise<CertificateLookup> {
    flight.waiters++;
    try {
      return await raceAbort(flight.promise, signal);
    } finally {
      flight.waiters--;
      if (flight.waiters === 0 && signal?.aborted) {
        // Nobody wants it any more: stop the fetch, and let the next request start afresh.
        if (this.flights.get(key) === flight) this.flights.delete(key);
        flight.controller.abort(signal.reason);
      }
    }
  }

  private async fromOption(need: CertificateNeed): Promise<CertificateLookup> {
    const option = this.options.certificate!;
    const label = this.options.optionLabel ?? 'the certificate option';
    const pem = typeof option === 'string' ? option : await raceAbort(Promise.resolve(option(need.model)), need.signal);
    const cert = this.parse(pem);
    this.check(cert, need, label);
    await this.verify(cert, need, label);
    return { certificate: cert, from: { kind: 'option', label } };
  }

  private parse(pem: string): ModelCertificate {
    const known = this.parsed.get(pem);
    if (known !== undefined) return known;
    const cert = parseModelCertificate(pem);
    this.parsed.set(pem, cert);
    return cert;
  }

  private tryParse(pem: string): ModelCertificate | undefined {
    try {
      return this.parse(pem);
    } catch {
      // Emptied, this catch would return undefined too: an equivalent mutant, which a disable
      // comment cannot reach here (Stryker attaches it inside the try).
      return undefined;
    }
  }

  /** The trust checks, if any; the end of the chain's validity (Infinity without checks). */
  private async verify(cert: ModelCertificate, need: CertificateNeed, origin: string): Promise<number> {
    const trust = this.options.trust;
    if (trust === undefined) return Number.POSITIVE_INFINITY;
    const verdict = await trust.verify(cert.pem, this.now(), `${origin} for model "${need.model}"`);
    return verdict.validUntilMs;
  }

  private check(cert: ModelCertificate, need: CertificateNeed, origin: string): void {
    if (!usableIn(cert, need.aicc)) {
      throw new InvalidCertificateError(
        need.aicc
          ? `${origin} for model "${need.model}" names no AICC key ring and key, but AICC mode is on`
          : `${origin} for model "${need.model}" is an AICC certificate, but AICC mode is off`,
      );
    }
    if (!validAt(cert, this.now())) {
      throw new InvalidCertificateError(
        `${origin} for model "${need.model}" is not valid now (valid from ` +
          `${cert.notBefore.toISOString()} to ${cert.notAfter.toISOString()}); check the clock, ` +
          'or clear the certificate cache',
      );
    }
  }

  private async load(key: string, need: CertificateNeed, signal: AbortSignal): Promise<CertificateLookup> {
    const store = this.storeFor(need.baseUrl);
    const cached = await store?.read(need.baseUrl, need.model);
    if (cached) {
      const cert = this.tryParse(cached.pem);
      const fresh = this.now() - cached.modifiedMs < CERTIFICATE_RELOAD_MS;
      if (cert && fresh && usableIn(cert, need.aicc) && validAt(cert, this.now())) {
        // Stryker disable next-line StringLiteral: the name only goes into the refusal's message, which the catch drops
        const trustedUntilMs = await this.verify(cert, need, 'the cached certificate').catch(() => undefined);
        const file = cached.file ?? store!.fileFor(need.baseUrl, need.model) ?? '';
        if (trustedUntilMs !== undefined) return this.remember(key, cert, trustedUntilMs, { kind: 'cache', file });
        // Not trusted (e.g. written before trustAnchors / pinnedKeys were set): never used.
      }
      // Corrupt, stale, of the other mode, out of its validity or untrusted: fetched again,
      // and the file replaced (atomically, below) once the new one has passed every check.
    }
    const cert = await this.fetchFromService(need, signal);
    this.check(cert, need, 'the certificate the service gave');
    const trustedUntilMs = await this.verify(cert, need, 'the certificate the service gave');
    await store?.write(need.baseUrl, need.model, cert.pem);
    const from: CertificateFrom = { kind: 'service', url: `${need.baseUrl}${CERTIFICATE_PATH}`, file: store?.fileFor(need.baseUrl, need.model) };
    return this.remember(key, cert, trustedUntilMs, from);
  }

  private async fetchFromService(need: CertificateNeed, signal: AbortSignal): Promise<ModelCertificate> {
    const timeoutMs = this.options.timeoutMs ?? 30_000;
    // A timer and a listener released as soon as the fetch settles (AbortSignal.timeout and
    // AbortSignal.any would hold each fetch's signals for the whole timeout: with many models
    // fetched in a burst, tens of megabytes). Needs no AbortSignal.any (some edge runtimes
    // lack it).
    const combined = new AbortController();
    const onAbort = (): void => combined.abort(signal.reason);
    // Stryker disable next-line ObjectLiteral,BooleanLiteral: a signal aborts once, and the listener is removed in `finally`, so `once` changes nothing
    signal.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => combined.abort(new DOMException('The certificate fetch timed out', 'TimeoutError')), timeoutMs);
    try {
      if (signal.aborted) onAbort();
      const { fetchPem } = this.options;
      const pem = fetchPem
        ? await fetchPem(need, combined.signal)
        : await fetchCertificatePem(this.options.http, { ...need, signal: combined.signal });
      return this.parse(pem);
    } catch (error) {
      if (combined.signal.aborted && !signal.aborted) {
        throw new CertificateUnavailableError(
          `the certificate service did not answer within ${timeoutMs} ms; nothing was sent. ` +
            'Raise certificateTimeout or check the network',
          { cause: error },
        );
      }
      throw error;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
  }

  private remember(key: string, certificate: ModelCertificate, trustedUntilMs: number, from: CertificateFrom): CertificateLookup {
    this.memory.set(key, { certificate, loadedMs: this.now(), trustedUntilMs });
    return { certificate, from };
  }
}
