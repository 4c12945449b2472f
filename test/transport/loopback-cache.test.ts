/**
 * A local server's certificates never land in the shared default cache (~/.ark/certificates),
 * whichever entry point asks and however the URL spells this machine. (`chat` and `cert`, the
 * CLI's entry points: test/cli.test.ts.)
 */
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { isLoopback } from '../../src/certificates/origin.js';
import { arkEncryption, createEncryptedFetch } from '../../src/index.js';
import { startMockArkServer, type MockArkServer } from '../../src/testing/index.js';
import { startEncryptingProxy } from '../../src/transport/proxy.js';
import { filesUnder, originCacheFile, removeDir } from '../certificates/helpers.js';

let server: MockArkServer;
let home: string;
beforeAll(async () => {
  server = await startMockArkServer({ apiKey: 'k' });
});
afterAll(() => server.close());

const body = JSON.stringify({ model: 'mock-model', messages: [{ role: 'user', content: 'hi' }] });
const headers = { authorization: 'Bearer k', 'x-is-encrypted': 'true', 'content-type': 'application/json' };
const chat = (f: typeof fetch, baseUrl = server.url) => f(`${baseUrl}/chat/completions`, { method: 'POST', headers, body });

/** The mock's base URL with its host spelled `host`. */
const spelled = (host: string): string => {
  const url = new URL(server.url);
  return `http://${host}:${url.port}${url.pathname}`;
};

describe('isLoopback', () => {
  it.each([
    'http://127.0.0.1:9/api/v3', 'http://127.8.9.10/x', 'http://127.255.255.255/', 'http://127.1/', 'http://0x7f.1/',
    'http://2130706433/', 'http://localhost:1/', 'http://LOCALHOST/', 'http://localhost./', 'http://a.localhost/',
    'http://a.b.localhost./', 'http://[::1]:80/', 'http://[0:0:0:0:0:0:0:1]/', 'http://[::ffff:127.0.0.1]/',
    'http://[::ffff:7f00:1]/', 'http://[::ffff:127.9.8.7]/',
  ])('%s is this machine', (url) => {
    expect(isLoopback(url)).toBe(true);
  });

  it.each([
    'https://ark.cn-beijing.volces.com/api/v3', 'http://128.0.0.1/', 'http://126.255.255.255/', 'http://localhost.example.com/',
    'http://10.0.0.1/', 'http://[::2]/', 'http://[::ffff:128.0.0.1]/', 'http://[::ffff:10.0.0.1]/', 'http://[fe80::1]/',
    'http://localhostx/', 'http://xlocalhost/', 'not a url',
    // The unspecified addresses mean every interface where the proxy binds them.
    'http://0.0.0.0:8080/', 'http://[::]/', 'http://[::ffff:0.0.0.0]/',
  ])('%s is not', (url) => {
    expect(isLoopback(url)).toBe(false);
  });
});

describe('certificates of loopback servers, with the default cache folder', () => {
  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'ark-e2ee-home-'));
  });
  afterAll(() => removeDir(home));

  async function withHome(run: () => Promise<void>): Promise<void> {
    vi.stubEnv('HOME', home);
    try {
      await run();
    } finally {
      vi.unstubAllEnvs();
    }
    expect(await readdir(home)).toEqual([]);
  }

  it.each(['127.0.0.1', 'localhost', '127.1', '[::ffff:127.0.0.1]'])('createEncryptedFetch at %s: memory only', async (host) => {
    await withHome(async () => {
      expect((await chat(createEncryptedFetch(), spelled(host))).status).toBe(200);
    });
  });

  it('the undici interceptor: memory only', async () => {
    await withHome(async () => {
      const agent = new Agent().compose(arkEncryption());
      try {
        const answer = await request(`${server.url}/chat/completions`, { method: 'POST', headers, body, dispatcher: agent });
        expect(answer.statusCode).toBe(200);
        await answer.body.text();
      } finally {
        await agent.close();
      }
    });
  });

  it('the proxy: memory only', async () => {
    await withHome(async () => {
      const proxy = await startEncryptingProxy({ upstream: server.url, onWarning: () => undefined });
      try {
        expect((await chat(fetch, proxy.url)).status).toBe(200);
      } finally {
        await proxy.close();
      }
    });
  });

  it('an explicit cacheDir caches them, in the origin\'s own folder', async () => {
    const explicit = join(home, 'certs');
    try {
      expect((await chat(createEncryptedFetch({ cacheDir: explicit }))).status).toBe(200);
      const file = originCacheFile(explicit, server.url);
      expect(await filesUnder(explicit)).toContain(file.slice(explicit.length + 1));
    } finally {
      await removeDir(explicit);
    }
  });
});
