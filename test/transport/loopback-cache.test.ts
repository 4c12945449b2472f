/** A local server's certificates never land in the shared default cache (~/.ark/certificates). */
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createEncryptedFetch } from '../../src/index.js';
import { isLoopback } from '../../src/certificates/origin.js';
import { startMockArkServer, type MockArkServer } from '../../src/testing/index.js';

let server: MockArkServer;
beforeAll(async () => {
  server = await startMockArkServer({ apiKey: 'k' });
});
afterAll(() => server.close());

const chat = (f: typeof fetch) =>
  f(`${server.url}/chat/completions`, {
    method: 'POST',
    headers: { authorization: 'Bearer k', 'x-is-encrypted': 'true' },
    body: JSON.stringify({ model: 'mock-model', messages: [{ role: 'user', content: 'hi' }] }),
  });

describe('certificates of loopback servers', () => {
  it('isLoopback knows this machine from the rest', () => {
    for (const url of ['http://127.0.0.1:9/api/v3', 'http://127.8.9.10/x', 'http://localhost:1/', 'http://a.localhost/', 'http://[::1]:80/']) {
      expect(isLoopback(url)).toBe(true);
    }
    for (const url of ['https://ark.cn-beijing.volces.com/api/v3', 'http://128.0.0.1/', 'http://localhost.example.com/', 'http://10.0.0.1/']) {
      expect(isLoopback(url)).toBe(false);
    }
  });

  it('are kept in memory with the default cache folder, and cached with an explicit one', async () => {
    const home = await mkdtemp(join(tmpdir(), 'ark-e2ee-home-'));
    vi.stubEnv('HOME', home);
    try {
      expect((await chat(createEncryptedFetch())).status).toBe(200);
      expect(await readdir(home)).toEqual([]);
      const explicit = join(home, 'certs');
      expect((await chat(createEncryptedFetch({ cacheDir: explicit }))).status).toBe(200);
      expect(await readdir(explicit)).toEqual(['mock-model.pem']);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
