/**
 * SessionPool: handshakes done ahead of time, off the request path.
 *
 * A session is one ECDH and one HKDF (protocol §2): ~0.1–0.2 ms on node:crypto, a few ms on
 * noble, a WebCrypto round trip in browsers and edge runtimes (createSessionAsync picks). It
 * depends on nothing in the request, only on the certificate, so a few can be made while the
 * program waits on the network, and a request then takes one ready-made.
 *
 * - Each session is handed out once and never again (the pool forgets it as it gives it).
 * - At most `size` sessions wait per certificate, for at most `maxCertificates` certificates
 *   (the least recently used is dropped past that).
 * - `drop(certificate)` and `clear()` forget sessions. `use(user, certificate)` records which
 *   certificate a user (a base URL and model) has now; when a user's certificate is replaced
 *   and no other user has the old one, the old one's sessions go. At most `maxUsers` users are
 *   remembered (the least recently seen is forgotten), so a process that meets 100 000 models
 *   keeps no more.
 * - Refills start one session per macrotask (setImmediate, else setTimeout 0), never in a
 *   microtask: a microtask would run before the request is sent, i.e. still on its path. The
 *   next one starts once that one is made.
 * - `size: 0` turns the pool off: every `take` is a fresh `createSessionAsync`.
 *
 * In transport/, not protocol/: it schedules work on timers, and protocol/ stays pure functions
 * of their inputs (test/architecture/layers.test.ts).
 */
import type { BackendChoice } from '../crypto/backend.js';
import type { NobleLoader } from '../crypto/session-crypto.js';
import { ArkE2EEError, InvalidOptionError } from '../errors.js';
import type { ModelCertificate } from '../protocol/certificate.js';
import { LruMap } from '../protocol/lru-map.js';
import type { Session } from '../protocol/session.js';
import { createSessionAsync } from '../protocol/session-async.js';

export interface SessionPoolOptions {
  /** Sessions kept ready per certificate; `0` turns the pool off. Default 4. */
  size?: number;
  /** Certificates with sessions ready at once; default 8. */
  maxCertificates?: number;
  /** Users (base URL and model) whose certificate is remembered for `use`; default 1000. */
  maxUsers?: number;
  aicc?: boolean;
  backend?: BackendChoice;
  /** How a refill is scheduled; default setImmediate where it exists, else setTimeout(…, 0). */
  schedule?: (task: () => void) => void;
  /** How a session that needs noble gets it (the transports pass their entry's way). */
  loadNoble?: NobleLoader;
  /** How a session is made; default createSessionAsync with `aicc`, `backend`, `loadNoble` (tests replace it). */
  create?: (certificate: ModelCertificate) => Promise<Session>;
}

export const DEFAULT_SESSION_POOL_SIZE = 4;
const DEFAULT_MAX_CERTIFICATES = 8;
const DEFAULT_MAX_USERS = 1000;

interface Entry {
  /** The certificate the sessions are made for (the latest object parsed from its PEM). */
  certificate: ModelCertificate;
  readonly ready: Session[];
  /** A refill is scheduled, or making its session. */
  scheduled: boolean;
}

const noNoble: NobleLoader = () =>
  Promise.reject(new ArkE2EEError('internal error: this session pool was made without a way to load noble; nothing was sent'));

function defaultSchedule(task: () => void): void {
  const { setImmediate } = globalThis as { setImmediate?: (task: () => void) => unknown };
  if (typeof setImmediate === 'function') setImmediate(task);
  else setTimeout(task, 0);
}

export class SessionPool {
  readonly size: number;
  private readonly maxCertificates: number;
  private readonly schedule: (task: () => void) => void;
  /**
   * By certificate PEM, least recently used first. The PEM, not the object: the same certificate
   * parsed twice is the same certificate, and its sessions are good for either object.
   */
  private readonly entries = new Map<string, Entry>();
  /** Each user's certificate PEM, and how many remembered users have each PEM. */
  private readonly users: LruMap<string, string>;
  private readonly usersOf = new Map<string, number>();

  constructor(private readonly options: SessionPoolOptions = {}) {
    this.users = new LruMap(options.maxUsers ?? DEFAULT_MAX_USERS, 'maxUsers');
    const size = options.size ?? DEFAULT_SESSION_POOL_SIZE;
    if (!Number.isInteger(size) || size < 0) throw new InvalidOptionError(`sessionPool must be a whole number ≥ 0, got ${size}`);
    this.size = size;
    this.maxCertificates = Math.max(1, options.maxCertificates ?? DEFAULT_MAX_CERTIFICATES);
    this.schedule = options.schedule ?? defaultSchedule;
  }

  /**
   * A session for `certificate` that nobody else has or will have: a ready one when there is
   * one, else made now. Throws what `createSession` throws (nothing is pooled for such a
   * certificate).
   */
  async take(certificate: ModelCertificate): Promise<Session> {
    if (this.size === 0) return this.create(certificate);
    const id = certificate.pem;
    // Taken before any await: no other take can get the same one.
    const ready = this.entries.get(id)?.ready.shift();
    // Made before anything is pooled, so a certificate createSessionAsync refuses gets no entry.
    const session = ready ?? (await this.create(certificate));
    let entry = this.entries.get(id);
    if (entry === undefined) {
      entry = { certificate, ready: [], scheduled: false };
      if (this.entries.size >= this.maxCertificates) this.dropId(this.entries.keys().next().value!);
    } else {
      this.entries.delete(id); // re-inserted below as the most recently used
      entry.certificate = certificate;
    }
    this.entries.set(id, entry);
    this.refill(id, entry);
    return session;
  }

  /**
   * `user` (a base URL and model) has `certificate` now. If it had another, that one was
   * replaced (reloaded, or a new PEM): its sessions go, unless another user still has it.
   */
  use(user: string, certificate: ModelCertificate): void {
    const pem = certificate.pem;
    const previous = this.users.get(user);
    // Stryker disable next-line ConditionalExpression: without it the count goes up and the release below brings it back down
    if (previous === pem) return;
    const evicted = this.users.set(user, pem);
    this.usersOf.set(pem, (this.usersOf.get(pem) ?? 0) + 1);
    // A user forgotten for room: its certificate is not replaced, its sessions stay.
    if (evicted !== undefined) this.release(evicted[1], false);
    if (previous !== undefined) this.release(previous, true);
  }

  /** Users remembered now. */
  get userCount(): number {
    return this.users.size;
  }

  /** Sessions ready for `certificate` now (for tests and the benchmark). */
  readyCount(certificate: ModelCertificate): number {
    return this.entries.get(certificate.pem)?.ready.length ?? 0;
  }

  /** Certificates with a pool entry now. */
  get certificateCount(): number {
    return this.entries.size;
  }

  /** Forgets the sessions made for `certificate` (it was replaced, or is no longer used). */
  drop(certificate: ModelCertificate): void {
    this.dropId(certificate.pem);
  }

  /** Forgets every session. */
  clear(): void {
    for (const entry of this.entries.values()) entry.ready.length = 0;
    this.entries.clear();
    this.users.clear();
    this.usersOf.clear();
  }

  private release(pem: string, replaced: boolean): void {
    const left = (this.usersOf.get(pem) ?? 1) - 1;
    if (left > 0) {
      this.usersOf.set(pem, left);
      return;
    }
    this.usersOf.delete(pem);
    if (replaced) this.dropId(pem);
  }

  private dropId(id: string): void {
    const entry = this.entries.get(id);
    if (entry === undefined) return;
    entry.ready.length = 0;
    this.entries.delete(id);
  }

  private create(certificate: ModelCertificate): Promise<Session> {
    if (this.options.create) return this.options.create(certificate);
    return createSessionAsync(certificate, { aicc: this.options.aicc, backend: this.options.backend }, this.options.loadNoble ?? noNoble);
  }

  /** Tops the entry up, one session at a time, each started in a macrotask, while it is still the certificate's. */
  private refill(id: string, entry: Entry): void {
    if (entry.scheduled || entry.ready.length >= this.size) return;
    entry.scheduled = true;
    // Dropped (or cleared) since: the certificate's sessions are no longer wanted, and the entry
    // is no one's. (Its ready list cannot have filled up meanwhile: only this refill adds to it.)
    const wanted = (): boolean => this.entries.get(id) === entry;
    this.schedule(() => {
      if (!wanted()) return;
      this.create(entry.certificate).then(
        (session) => {
          entry.scheduled = false;
          if (!wanted()) return;
          entry.ready.push(session);
          this.refill(id, entry);
        },
        () => {
          // The refills stop here (nothing schedules the next one); the next take makes its
          // session on the request path, reports the error there, and starts them again.
          entry.scheduled = false;
        },
      );
    });
  }
}
