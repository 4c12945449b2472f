/**
 * Issue 7, faults of the disk cache, end to end against the mock server (the cases that
 * test/certificates/{disk-cache,end-to-end-cache}.test.ts already cover, a plain corrupt file,
 * the modes, an expired certificate, a symbolic link and the other AICC mode, are not repeated):
 * damaged files are replaced; a read-only folder means memory only. (Eight processes filling one
 * empty cache at once: test/load/cache-race.test.ts, with the other tests that run dist/ in child
 * processes.)
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type * as Fs from 'node:fs/promises';
import { chmod, mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createEncryptedFetch } from '../../src/index.js';
import { createMockCertificate, startMockArkServer, type MockArkServer } from '../../src/testing/index.js';
import { p384CertificatePem } from '../../src/testing/faults.js';
import { DAY_MS, filesUnder, modeOf, originCacheFile, useTempCacheDir } from '../certificates/helpers.js';
import { API_KEY, encryptedChat } from './helpers.js';

let server: MockArkServer;
let cacheDir: string;

beforeAll(async () => {
  server = await startMockArkServer({ apiKey: API_KEY });
});
afterAll(() => server.close());
useTempCacheDir((dirs) => ({ cacheDir } = dirs));

const cacheFile = (): string => originCacheFile(cacheDir, server.url);

async function place(content: string | Uint8Array, mode = 0o644): Promise<void> {
  await mkdir(dirname(cacheFile()), { recursive: true, mode: 0o700 });
  await writeFile(cacheFile(), content);
  await chmod(cacheFile(), mode);
}

/** One request through a fresh client; how many certificate fetches it made. */
async function fetchesFor(options: Parameters<typeof createEncryptedFetch>[0] = {}): Promise<number> {
  const before = server.certificateRequests;
  const response = await encryptedChat(createEncryptedFetch({ errors: 'throw', cacheDir, onWarning: () => undefined, ...options }), server.url, { text: 'q' });
  expect(response.status).toBe(200);
  expect(((await response.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBe('echo: q');
  return server.certificateRequests - before;
}

describe('a damaged cache file is deleted, fetched again and replaced', () => {
  const pem = (): string => server.certificatePem;
  const cases: [string, () => string | Uint8Array, number?][] = [
    ['truncated to half', () => pem().slice(0, Math.floor(pem().length / 2))],
    ['cut before its END line', () => pem().replace('-----END CERTIFICATE-----\n', '')],
    ['empty', () => ''],
    ['random bytes', () => randomBytes(700)],
    ['a private key', () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()],
    ['a certificate with a P-384 key', () => p384CertificatePem()],
    ['a certificate not valid yet', () => createMockCertificate({ notBefore: new Date(Date.now() + DAY_MS), notAfter: new Date(Date.now() + 9 * DAY_MS) }).certificatePem],
    ['the right certificate, group-writable (0664)', pem, 0o664],
    ['the right certificate, writable by others (0606)', pem, 0o606],
  ];
  it.each(cases)('%s', async (_name, content, mode) => {
    await place(content(), mode);
    expect(await fetchesFor()).toBe(1);
    expect(await readFile(cacheFile(), 'utf8')).toBe(pem());
    // Replaced with its readable bits kept, never writable by group or others.
    expect(await modeOf(cacheFile())).toBe(((mode ?? 0o644) & 0o644) | 0o600);
    expect(await filesUnder(dirname(cacheFile()))).toEqual(['mock-model.pem']);
    // …and the replacement is used from then on.
    expect(await fetchesFor()).toBe(0);
  });

  it('a file older than 14 days holding another (rotated) certificate is replaced', async () => {
    await place(createMockCertificate().certificatePem);
    const old = new Date(Date.now() - 15 * DAY_MS);
    await utimes(cacheFile(), old, old);
    expect(await fetchesFor()).toBe(1);
    expect(await readFile(cacheFile(), 'utf8')).toBe(server.certificatePem);
  });
});

describe('a read-only cache folder means memory only', () => {
  /** Every write, rename, removal or mode change under `dir` fails as on a read-only mount. */
  function makeReadOnly(dir: string): void {
    const fs = process.getBuiltinModule('node:fs/promises') as typeof Fs;
    for (const name of ['writeFile', 'rename', 'rm', 'unlink', 'chmod', 'mkdir'] as const) {
      const original = fs[name] as (...args: unknown[]) => Promise<unknown>;
      vi.spyOn(fs, name).mockImplementation(((path: unknown, ...rest: unknown[]) => {
        if (!String(path).startsWith(dir)) return original.call(fs, path, ...rest);
        return Promise.reject(Object.assign(new Error(`EROFS: read-only file system, '${String(path)}'`), { code: 'EROFS' }));
      }) as never);
    }
  }

  it('an empty read-only folder: every request works, one fetch, one warning, nothing written', async () => {
    await mkdir(cacheDir, { mode: 0o700 });
    makeReadOnly(cacheDir);
    const warnings: string[] = [];
    const fetchFn = createEncryptedFetch({ errors: 'throw', cacheDir, onWarning: (message) => warnings.push(message) });
    const before = server.certificateRequests;
    for (let i = 0; i < 3; i++) {
      const response = await encryptedChat(fetchFn, server.url, { text: `q${i}` });
      expect(((await response.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBe(`echo: q${i}`);
    }
    expect(server.certificateRequests - before).toBe(1);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/EROFS.*memory only/s);
    expect(await filesUnder(cacheDir)).toEqual([]);
  });

  it('a read-only folder holding a corrupt file: the file cannot be replaced, memory serves instead', async () => {
    await place('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    makeReadOnly(cacheDir);
    const warnings: string[] = [];
    const fetchFn = createEncryptedFetch({ errors: 'throw', cacheDir, onWarning: (message) => warnings.push(message) });
    const before = server.certificateRequests;
    for (let i = 0; i < 3; i++) expect((await encryptedChat(fetchFn, server.url)).status).toBe(200);
    expect(server.certificateRequests - before).toBe(1);
    expect(warnings).toHaveLength(1);
    expect(await readFile(cacheFile(), 'utf8')).toContain('MIIB');
  });

  it('a read-only folder holding a good file: it is used, nothing is fetched, no warning', async () => {
    await place(server.certificatePem);
    makeReadOnly(cacheDir);
    const warnings: string[] = [];
    expect(await fetchesFor({ onWarning: (message) => warnings.push(message) })).toBe(0);
    expect(warnings).toEqual([]);
  });

  it.skipIf(process.getuid?.() === 0)('a folder with mode 0500 (not as root): memory only, one warning', async () => {
    await mkdir(cacheDir, { mode: 0o500 });
    await chmod(cacheDir, 0o500);
    const warnings: string[] = [];
    expect(await fetchesFor({ onWarning: (message) => warnings.push(message) })).toBe(1);
    expect(warnings).toHaveLength(1);
    expect(await filesUnder(cacheDir)).toEqual([]);
  });
});
