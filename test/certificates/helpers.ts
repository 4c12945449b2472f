/**
 * Shared pieces of the certificate tests: temporary cache folders, a fake CertificateHttp that
 * counts calls and answers as told (or hangs until aborted), a store that counts its calls, and
 * ready-made certificates.
 */
import { chmod, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, vi } from 'vitest';
import { originFolderName, type CachedCertificate, type CertificateStore } from '../../src/certificates/disk-cache.js';
import type { CertificateHttp, CertificateHttpRequest } from '../../src/certificates/service.js';
import type { MockArkServer, RecordedRequest } from '../../src/testing/index.js';
import { makeCertificate } from '../helpers/make-certificate.js';

export const DAY_MS = 24 * 60 * 60 * 1000;
export const RELOAD_MS = 14 * DAY_MS;

/** Certificates valid 2025–2035 (plain and AICC), and some that are not valid now. */
export const PLAIN = makeCertificate().pem;
export const PLAIN_2 = makeCertificate().pem;
export const AICC = makeCertificate({ ringId: 'ring-1', keyId: 'key-1' }).pem;
export const RING_ONLY = makeCertificate({ ringId: 'ring-1' }).pem;
export const EXPIRED = makeCertificate({ notBefore: new Date(Date.UTC(2020, 0, 1)), notAfter: new Date(Date.UTC(2021, 0, 1)) }).pem;
export const NOT_YET_VALID = makeCertificate({ notBefore: new Date(Date.UTC(2090, 0, 1)), notAfter: new Date(Date.UTC(2099, 0, 1)) }).pem;
/** The end of validity of PLAIN, AICC and PLAIN_2. */
export const NOT_AFTER_MS = Date.UTC(2035, 0, 1);

/** A fresh private folder under the system's temporary folder. */
export function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'ark-e2ee-cert-'));
}

export async function removeDir(dir: string): Promise<void> {
  await chmod(dir, 0o700).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
}

/** File permission bits (`0o600`…) of a path. */
export async function modeOf(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

/**
 * A cache folder the process cannot write. A read-only folder blocks everyone but root (tests
 * may run as root), so when a probe write there succeeds, use a path under a regular file.
 */
export async function unwritableDir(parent: string): Promise<string> {
  const locked = join(parent, 'locked');
  await mkdir(locked, { mode: 0o500 });
  await chmod(locked, 0o500);
  try {
    await writeFile(join(locked, 'probe'), 'x');
  } catch {
    return locked;
  }
  await chmod(locked, 0o700);
  await rm(locked, { recursive: true, force: true });
  await writeFile(join(parent, 'a-file'), 'not a folder');
  return join(parent, 'a-file', 'sub');
}

/**
 * The cache file of `model` from `baseUrl` under `cacheDir`: `by-origin/<folder>/<model>.pem`
 * (the mock and every server but the official default; disk-cache.test.ts pins the names).
 */
export function originCacheFile(cacheDir: string, baseUrl: string, model = 'mock-model'): string {
  return join(cacheDir, 'by-origin', originFolderName(baseUrl), `${model}.pem`);
}

export interface Reply {
  status: number;
  text: string;
  /** A redirect's `Location`. */
  location?: string;
}

export const okReply = (pem: string): Reply => ({ status: 200, text: JSON.stringify({ Certificate: pem }) });

/** A promise that never settles on its own, and rejects with the signal's reason on abort. */
export function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

export interface FakeHttp {
  http: CertificateHttp;
  calls: CertificateHttpRequest[];
}

/** A CertificateHttp that records each call and answers with `reply` (a fixed answer or a function). */
export function fakeHttp(reply: Reply | ((request: CertificateHttpRequest, index: number) => Reply | Promise<Reply>)): FakeHttp {
  const calls: CertificateHttpRequest[] = [];
  const http: CertificateHttp = async (request) => {
    calls.push(request);
    return typeof reply === 'function' ? reply(request, calls.length - 1) : reply;
  };
  return { http, calls };
}

/** A promise with its resolve at hand. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/**
 * An in-memory CertificateStore that counts its calls. `files` is keyed by model alone (the
 * tests of the source use one base URL); `byOrigin` keys by base URL and model.
 */
export function memoryStore(initial: Record<string, CachedCertificate> = {}) {
  const files = new Map(Object.entries(initial));
  const counts = { read: 0, write: 0 };
  const origins: string[] = [];
  const store: CertificateStore = {
    fileFor: (_baseUrl, model) => `/memory/${model}.pem`,
    async read(baseUrl, model) {
      counts.read++;
      origins.push(baseUrl);
      return files.get(model);
    },
    async write(baseUrl, model, pem) {
      counts.write++;
      origins.push(baseUrl);
      files.set(model, { pem, modifiedMs: Date.now() });
    },
  };
  return { store, files, counts, origins };
}

/** A clock the test moves by hand. */
export function clock(start = Date.now()) {
  let current = start;
  return {
    now: (): number => current,
    set(ms: number): void {
      current = ms;
    },
    advance(ms: number): void {
      current += ms;
    },
  };
}

/** What the end-to-end tests send: one encrypted chat completion to the mock server. */
export function chat(
  fetchFn: typeof fetch,
  baseUrl: string,
  { model = 'mock-model', text = 'hello', key = 'cert-test-key', signal }: { model?: string; text?: string; key?: string; signal?: AbortSignal } = {},
): Promise<Response> {
  return fetchFn(`${baseUrl}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'x-is-encrypted': 'true', 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: text }] }),
    signal,
  });
}

/** The (decrypted) content of a chat completion answer. */
export async function contentOf(response: Response): Promise<string> {
  expect(response.status).toBe(200);
  const json = (await response.json()) as { choices: { message: { content: string } }[] };
  return json.choices[0]!.message.content;
}

/** The requests the server got at `…/chat/completions` (and batch). */
export const chatRequests = (server: MockArkServer): RecordedRequest[] =>
  server.requests.filter((request) => request.path.endsWith('/chat/completions'));

/** The requests the server got at `…/e2e/get/certificate`. */
export const certificateRequests = (server: MockArkServer): RecordedRequest[] =>
  server.requests.filter((request) => request.path.endsWith('/e2e/get/certificate'));

/** Every path under `dir`, relative, sorted; `[]` when it does not exist. */
export async function filesUnder(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { recursive: true })).sort();
  } catch {
    return [];
  }
}

/**
 * A fresh temporary folder for each test (with `cacheDir` = `<tmp>/certs` inside it), removed
 * after, and an environment without E2E_CERTIFICATE_PATH or VOLC_ARK_ENCRYPTION.
 */
export function useTempCacheDir(set: (dirs: { tmp: string; cacheDir: string }) => void): void {
  let tmp = '';
  beforeEach(async () => {
    vi.stubEnv('E2E_CERTIFICATE_PATH', '');
    vi.stubEnv('VOLC_ARK_ENCRYPTION', '');
    tmp = await tempDir();
    set({ tmp, cacheDir: join(tmp, 'certs') });
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
    await removeDir(tmp);
  });
}
