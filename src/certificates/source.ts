/**
 * Where a model's certificate comes from (protocol §1): the caller's option, then memory, then
 * the disk cache, then the certificate service. One service fetch per model and mode however
 * many requests wait for it; reloaded after 14 days; an expired or not-yet-valid certificate is
 * fetched once more, then refused.
 */
import { CertificateUnavailableError, InvalidCertificateError } from '../errors.js';
import { parseCertificate, type ModelCertificate } from '../protocol/certificate.js';
import { CERTIFICATE_RELOAD_MS } from '../protocol/constants.js';
import type { CertificateStore } from './disk-cache.js';
import { fetchCertificatePem, type CertificateHttp } from './service.js';

/** A PEM for every model, or a function of the model name that gives one. */
export type CertificateOption = string | ((model: string) => string | Promise<string>);

export interface CertificateSourceOptions {
  certificate?: CertificateOption;
  store?: CertificateStore;
  http: CertificateHttp;
  /** Abort a service fetch that takes longer than this (ms). */
  timeoutMs?: number;
  now?: () => number;
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

function tryParse(pem: string): ModelCertificate | undefined {
  try {
    return parseCertificate(pem);
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

export class CertificateSource {
  private readonly memory = new Map<string, MemoryEntry>();
  private readonly flights = new Map<string, Flight>();
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
    if (cached && this.now() - cached.loadedMs < CERTIFICATE_RELOAD_MS && validAt(cached.certificate, this.now())) {
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
    const cert = parseCertificate(pem);
    this.check(cert, need, 'the certificate option');
    return cert;
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
    const store = this.options.store;
    const cached = await store?.read(need.model);
    if (cached) {
      const cert = tryParse(cached.pem);
      const fresh = this.now() - cached.modifiedMs < CERTIFICATE_RELOAD_MS;
      if (cert && fresh && usableIn(cert, need.aicc) && validAt(cert, this.now())) {
        return this.remember(key, cert);
      }
      // Corrupt, stale, of the other mode, or out of its validity: fetch it again.
      await store?.remove(need.model);
    }
    const cert = await this.fetchFromService(need, signal);
    this.check(cert, need, 'the certificate the service gave');
    await store?.write(need.model, cert.pem);
    return this.remember(key, cert);
  }

  private async fetchFromService(need: CertificateNeed, signal: AbortSignal): Promise<ModelCertificate> {
    const timeoutMs = this.options.timeoutMs ?? 30_000;
    const timeout = AbortSignal.timeout(timeoutMs);
    const combined = AbortSignal.any([signal, timeout]);
    try {
      const pem = await fetchCertificatePem(this.options.http, { ...need, signal: combined });
      return parseCertificate(pem);
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

  private remember(key: string, certificate: ModelCertificate): ModelCertificate {
    this.memory.set(key, { certificate, loadedMs: this.now() });
    return certificate;
  }
}
