/**
 * The certificate rules end to end: createEncryptedFetch({ cacheDir }) against the mock Ark
 * server, with a temporary cache folder (the mock's certificates live in its own origin folder,
 * `by-origin/<folder>/<model>.pem`). Single flight, disk hits, file and folder modes, reloads,
 * replaced files, AICC mode, an unwritable folder and model names that are not paths.
 */
import { chmod, mkdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createEncryptedFetch } from '../../src/index.js';
import { startMockArkServer, type MockArkServer } from '../../src/testing/index.js';
import {
  DAY_MS, EXPIRED, certificateRequests, chat, chatRequests, contentOf, filesUnder, modeOf, originCacheFile,
  useTempCacheDir, unwritableDir,
} from './helpers.js';

const API_KEY = 'cert-test-key';
let server: MockArkServer;
let aiccServer: MockArkServer;
let tmp: string;
let cacheDir: string;

beforeAll(async () => {
  server = await startMockArkServer({ apiKey: API_KEY });
  aiccServer = await startMockArkServer({ apiKey: API_KEY, aicc: true });
});
afterAll(async () => {
  await Promise.all([server.close(), aiccServer.close()]);
});
useTempCacheDir((dirs) => ({ tmp, cacheDir } = dirs));

const cacheFile = (model = 'mock-model', on: MockArkServer = server): string => originCacheFile(cacheDir, on.url, model);
const client = (options: Parameters<typeof createEncryptedFetch>[0] = {}): typeof fetch =>
  createEncryptedFetch({ cacheDir, onWarning: () => undefined, ...options });

/** Sends one request and checks its answer decrypts; gives how many certificate fetches it made. */
async function fetchesFor(fetchFn: typeof fetch, on: MockArkServer = server, model = 'mock-model'): Promise<number> {
  const before = on.certificateRequests;
  expect(await contentOf(await chat(fetchFn, on.url, { model, text: 'question' }))).toBe('echo: question');
  return on.certificateRequests - before;
}

async function place(text: string, mode = 0o644, on: MockArkServer = server): Promise<void> {
  const file = cacheFile('mock-model', on);
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, text);
  await chmod(file, mode);
}

describe('single flight and the disk cache', () => {
  it('a cold client firing 100 requests at once fetches the certificate once; all 100 decrypt', async () => {
    const before = server.certificateRequests;
    const encryptedBefore = server.stats.encryptedRequests;
    const fetchFn = client();
    const answers = await Promise.all(
      Array.from({ length: 100 }, async (_unused, i) => contentOf(await chat(fetchFn, server.url, { text: `question ${i}` }))),
    );
    expect(server.certificateRequests - before).toBe(1);
    expect(answers).toEqual(Array.from({ length: 100 }, (_unused, i) => `echo: question ${i}`));
    expect(server.stats.encryptedRequests - encryptedBefore).toBe(100);
    const fetched = certificateRequests(server).at(-1)!;
    expect(fetched.headers['authorization']).toBe(`Bearer ${API_KEY}`);
    expect(JSON.parse(fetched.body)).toEqual({ model: 'mock-model' });

    expect(await fetchesFor(client())).toBe(0);
    expect(await readFile(cacheFile(), 'utf8')).toBe(server.certificatePem);
  });

  it('after a write the file is 0644 (a certificate is public) and the new folders 0700', async () => {
    cacheDir = `${tmp}/deeper/certs`;
    expect(await fetchesFor(client())).toBe(1);
    expect(await modeOf(cacheDir)).toBe(0o700);
    expect(await modeOf(dirname(cacheFile()))).toBe(0o700);
    expect(await modeOf(cacheFile())).toBe(0o644);
    const folder = dirname(cacheFile()).slice(cacheDir.length + 1);
    expect(await filesUnder(cacheDir)).toEqual(['by-origin', folder, `${folder}/mock-model.pem`]);
  });

  it('a file older than 14 days is fetched again and rewritten', async () => {
    await fetchesFor(client());
    const old = new Date(Date.now() - 14 * DAY_MS - 60_000);
    await utimes(cacheFile(), old, old);
    expect(await fetchesFor(client())).toBe(1);
    expect(Date.now() - (await stat(cacheFile())).mtimeMs).toBeLessThan(60_000);
  });

  it('a corrupt file is replaced', async () => {
    await place('-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n');
    expect(await fetchesFor(client())).toBe(1);
    expect(await readFile(cacheFile(), 'utf8')).toBe(server.certificatePem);
    expect(await modeOf(cacheFile())).toBe(0o644);
  });

  it('a file others can read but not write (0644, as the SDKs leave it) is used; a group-writable one is replaced', async () => {
    await place(server.certificatePem, 0o644);
    expect(await fetchesFor(client())).toBe(0);
    await place(server.certificatePem, 0o664);
    expect(await fetchesFor(client())).toBe(1);
    expect(await modeOf(cacheFile())).toBe(0o644);
  });

  it('an expired certificate on disk is fetched once more and replaced', async () => {
    await place(EXPIRED);
    expect(await fetchesFor(client())).toBe(1);
    expect(await readFile(cacheFile(), 'utf8')).toBe(server.certificatePem);
  });
});

describe('AICC mode', () => {
  it('an AICC client does not use a plain cached certificate; a plain client not an AICC one', async () => {
    // The two mock servers are two origins: each one's file holds the other mode's certificate.
    await place(server.certificatePem, 0o644, aiccServer);
    expect(await fetchesFor(client({ aicc: true }), aiccServer)).toBe(1);
    expect(JSON.parse(certificateRequests(aiccServer).at(-1)!.body)).toEqual({ model: 'mock-model', type: 'AICCv0.1' });
    expect(await readFile(cacheFile('mock-model', aiccServer), 'utf8')).toBe(aiccServer.certificatePem);
    expect(await fetchesFor(client({ aicc: true }), aiccServer)).toBe(0);

    await place(aiccServer.certificatePem, 0o644, server);
    expect(await fetchesFor(client(), server)).toBe(1);
    expect(await readFile(cacheFile(), 'utf8')).toBe(server.certificatePem);
  });

  it('VOLC_ARK_ENCRYPTION=AICC turns AICC mode on', async () => {
    await place(server.certificatePem, 0o644, aiccServer);
    vi.stubEnv('VOLC_ARK_ENCRYPTION', 'AICC');
    expect(await fetchesFor(client(), aiccServer)).toBe(1);
    const sent = chatRequests(aiccServer).at(-1)!;
    expect(JSON.parse(sent.headers['x-encrypt-info']!)).toMatchObject({ Version: 'AICCv0.1', RingID: 'ring-mock', KeyID: 'key-mock' });
    expect(await readFile(cacheFile('mock-model', aiccServer), 'utf8')).toBe(aiccServer.certificatePem);
  });
});

describe('an unwritable cache folder: memory only, one warning', () => {
  it('requests still succeed, the certificate is held in memory, and one warning is given', async () => {
    cacheDir = await unwritableDir(tmp);
    const warnings: string[] = [];
    const fetchFn = client({ onWarning: (message) => warnings.push(message) });
    const before = server.certificateRequests;
    const answers = await Promise.all(
      ['model-a', 'model-b', 'model-c', 'model-a', 'model-b'].map(async (model, i) =>
        contentOf(await chat(fetchFn, server.url, { model, text: `q${i}` }))),
    );
    expect(answers).toEqual(['echo: q0', 'echo: q1', 'echo: q2', 'echo: q3', 'echo: q4']);
    expect(server.certificateRequests - before).toBe(3);
    expect(await fetchesFor(fetchFn, server, 'model-a')).toBe(0);
    expect(await fetchesFor(fetchFn, server, 'model-d')).toBe(1);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(cacheDir);
  });
});

describe('a model name never becomes a path', () => {
  it.each(['a/b', '..\\x', 'c:d', '..'])('%j: served, held in memory, and nothing written anywhere', async (model) => {
    const fetchFn = client();
    expect(await fetchesFor(fetchFn, server, model)).toBe(1);
    expect(await fetchesFor(fetchFn, server, model)).toBe(0);
    expect(await filesUnder(cacheDir)).toEqual([]);
    expect((await filesUnder(tmp)).filter((path) => path !== 'certs')).toEqual([]);
  });
});
