/**
 * Eight processes, each running the built library (dist/), fill one empty certificate cache at
 * once: the file is always absent or whole, never torn, and no temporary file is left behind.
 * It lives with the other child-process tests, which the mutation runs leave out (they run dist/,
 * not the mutated source).
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCertificate } from '../../src/index.js';
import { startMockArkServer, type MockArkServer } from '../../src/testing/index.js';
import { filesUnder, modeOf, originCacheFile, useTempCacheDir } from '../certificates/helpers.js';
import { API_KEY } from '../faults/helpers.js';
import { startChild } from './child.js';

let server: MockArkServer;
let tmp: string;

beforeAll(async () => {
  server = await startMockArkServer({ apiKey: API_KEY });
});
afterAll(() => server.close());
useTempCacheDir((dirs) => ({ tmp } = dirs));

describe('eight processes filling the same empty cache at once', () => {
  const PROCESSES = 8;
  const ROUNDS = 2;

  it(`never leave a torn file or a temporary file (${ROUNDS} rounds)`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const dir = join(tmp, `race-${round}`);
      const file = originCacheFile(dir, server.url);
      const children = Array.from({ length: PROCESSES }, () =>
        startChild('fill-cache.mjs', { CACHE_DIR: dir, URL: server.url, API_KEY }));
      try {
        expect(await Promise.all(children.map((child) => child.nextLine()))).toEqual(Array(PROCESSES).fill('ready'));
        // Meanwhile, read the file over and over: it is absent or whole, never partial.
        let watching = true;
        const seen = { absent: 0, whole: 0, torn: [] as string[] };
        const watcher = (async () => {
          while (watching) {
            try {
              const text = await readFile(file, 'utf8');
              if (text === server.certificatePem) seen.whole++;
              else seen.torn.push(text);
            } catch (error) {
              if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
              seen.absent++;
            }
          }
        })();
        const fetchesBefore = server.certificateRequests;
        for (const child of children) child.process.stdin.write('go\n');
        const results = (await Promise.all(children.map((child) => child.nextLine()))).map(
          (line) => JSON.parse(line) as { status: number; content: string; pid: number; warnings: string[] },
        );
        watching = false;
        await watcher;

        for (const result of results) {
          expect(result).toMatchObject({ status: 200, content: `echo: process ${result.pid}`, warnings: [] });
        }
        expect(await Promise.all(children.map((child) => child.exited))).toEqual(Array(PROCESSES).fill(0));
        const fetches = server.certificateRequests - fetchesBefore;
        expect(fetches).toBeGreaterThanOrEqual(1);
        expect(fetches).toBeLessThanOrEqual(PROCESSES);
        expect(seen.torn).toEqual([]);
        expect(seen.whole).toBeGreaterThan(0);
        expect(await filesUnder(dirname(file))).toEqual(['mock-model.pem']);
        expect(await readFile(file, 'utf8')).toBe(server.certificatePem);
        expect(parseCertificate(await readFile(file, 'utf8')).publicKey).toEqual(parseCertificate(server.certificatePem).publicKey);
        expect(await modeOf(file)).toBe(0o644);
        expect(await modeOf(dir)).toBe(0o700);
        expect(await modeOf(dirname(file))).toBe(0o700);
      } finally {
        for (const child of children) if (child.process.exitCode === null) child.process.kill();
      }
    }
  }, 60_000);
});
