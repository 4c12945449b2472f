/**
 * Where a model's certificate comes from (protocol §1): the caller's option, then memory, then
 * the disk cache, then the certificate service. One service fetch per model and mode however
 * many requests wait for it; reloaded after 14 days; an expired or not-yet-valid certificate is
 * fetched once more, then refused.
 *
 * With `trust` (trustAnchors / pinnedKeys, see trust.ts) every certificate, whatever its source,
 * is verified before it is used or kept: one that fails is never cached (a cached file that fails
 * is deleted and fetched afresh) and the request fails with `InvalidCertificateError`.
 *
 * A PEM with several CERTIFICATE blocks is the model's certificate (the first block) followed by
 * intermediates: the first block is parsed, the whole text is kept (and cached) so the chain can
 * be built again. `parseCertificate` itself still takes exactly one block.
 */
import { anySignal } from '../any-signal.js';
import { CertificateUnavailableError, InvalidCertificateError } from '../errors.js';
import { parseCertificate, type ModelCertificate } from '../protocol/certificate.js';
import { CERTIFICATE_RELOAD_MS } from '../protocol/constants.js';
import type { CertificateStore } from './disk-cache.js';
import { fetchCertificatePem, type CertificateHttp } from './service.js';
import { splitPemCertificates, type CertificateTrust } from './trust.js';

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
  promise: Promise<ModelCertificate>;
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
  const blocks = typeof pem === 'string' ? splitPemCertificates(pem) : [];
  if (blocks.length <= 1) return parseCertificate(pem);
  return Object.freeze({ ...parseCertificate(blocks[0]!), pem });
}

function tryParse(pem: string): ModelCertificate | undefined {
  try {
    return parseModelCertificate(pem);
  } catch {
    return undefined;
  }
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | null | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

const PARSED_OPTIONS_KEPT = 16;

export class CertificateSource {
  private readonly memory = new Map<string, MemoryEntry>();
  private readonly flights = new Map<string, Flight>();
  /**
   * PEMs of the certificate option, parsed: parsing costs ~0.5 ms, and the option (or
   * E2E_CERTIFICATE_PATH, read afresh each time) gives the same text on every request. One
   * object per certificate also keeps per-certificate caches (the noble tables) warm.
   */
  private readonly parsedOptions = new Map<string, ModelCertificate>();
  private readonly now: () => number;

  constructor(private readonly options: CertificateSourceOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The certificate for `need.model` in `need.aicc` mode. */
  async get(need: CertificateNeed): Promise<ModelCertificate> {
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
      return cached.certificate;
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
    this.parsedOptions.clear();
  }

  private async wait(key: string, flight: Flight, signal: AbortSignal | null | undefined): Promise<ModelCertificate> {
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

  private async fromOption(need: CertificateNeed): Promise<ModelCertificate> {
    const option = this.options.certificate!;
    const pem = typeof option === 'string' ? option : await raceAbort(Promise.resolve(option(need.model)), need.signal);
    const cert = this.parseOption(pem);
    this.check(cert, need, 'the certificate option');
    await this.verify(cert, need, 'the certificate option');
    return cert;
  }

  private parseOption(pem: string): ModelCertificate {
    const known = this.parsedOptions.get(pem);
    if (known !== undefined) return known;
    const cert = parseModelCertificate(pem);
    // A handful of models, each with its PEM, at most: keep the last few.
    if (this.parsedOptions.size >= PARSED_OPTIONS_KEPT) this.parsedOptions.delete(this.parsedOptions.keys().next().value!);
    this.parsedOptions.set(pem, cert);
    return cert;
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

  private async load(key: string, need: CertificateNeed, signal: AbortSignal): Promise<ModelCertificate> {
    const { storesFor } = this.options;
    const store = storesFor === undefined || storesFor(need.baseUrl) ? this.options.store : undefined;
    const cached = await store?.read(need.model);
    if (cached) {
      const cert = tryParse(cached.pem);
      const fresh = this.now() - cached.modifiedMs < CERTIFICATE_RELOAD_MS;
      if (cert && fresh && usableIn(cert, need.aicc) && validAt(cert, this.now())) {
        const trustedUntilMs = await this.verify(cert, need, 'the cached certificate').catch(() => undefined);
        if (trustedUntilMs !== undefined) return this.remember(key, cert, trustedUntilMs);
        // Not trusted (e.g. written before trustAnchors / pinnedKeys were set): never used.
      }
      // Corrupt, stale, of the other mode, out of its validity or untrusted: fetch it again.
      await store?.remove(need.model);
    }
    const cert = await this.fetchFromService(need, signal);
    this.check(cert, need, 'the certificate the service gave');
    const trustedUntilMs = await this.verify(cert, need, 'the certificate the service gave');
    await store?.write(need.model, cert.pem);
    return this.remember(key, cert, trustedUntilMs);
  }

  private async fetchFromService(need: CertificateNeed, signal: AbortSignal): Promise<ModelCertificate> {
    const timeoutMs = this.options.timeoutMs ?? 30_000;
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = anySignal([signal, timeout]);
    try {
      const { fetchPem } = this.options;
      const pem = fetchPem ? await fetchPem(need, combined) : await fetchCertificatePem(this.options.http, { ...need, signal: combined });
      return parseModelCertificate(pem);
    } catch (error) {
      if (timeout.aborted && !signal.aborted) {
        throw new CertificateUnavailableError(
          `the certificate service did not answer within ${timeoutMs} ms; nothing was sent. ` +
            'Raise certificateTimeout or check the network',
          { cause: error },
        );
      }
      throw error;
    }
  }

  private remember(key: string, certificate: ModelCertificate, trustedUntilMs: number): ModelCertificate {
    this.memory.set(key, { certificate, loadedMs: this.now(), trustedUntilMs });
    return certificate;
  }
}
