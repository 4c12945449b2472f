/** The ark-e2ee command line, spawned as a user would, against the mock server. */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateKeyPin } from '../src/index.js';
import { startMockArkServer, type MockArkServer } from '../src/testing/index.js';

const root = new URL('..', import.meta.url);
const CLI = new URL('dist/cli/main.js', root).pathname;
const KEY = 'cli-key';
let server: MockArkServer;
let home: string;

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('node', [CLI, ...args], { env: { PATH: process.env.PATH ?? '', HOME: home, ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  if (!existsSync(CLI)) await new Promise((r) => execFile('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root }, r));
  server = await startMockArkServer({ apiKey: KEY });
  home = await mkdtemp(join(tmpdir(), 'ark-e2ee-cli-'));
}, 120_000);
afterAll(() => server.close());

describe('ark-e2ee chat', () => {
  it('streams the decrypted answer; nothing in plain text reached the service', async () => {
    const from = server.requests.length;
    const r = await cli(['chat', '--base-url', server.url, '--model', 'mock-pieces', '--system', '系统提示', '常见的十字花科植物有哪些?'], { ARK_API_KEY: KEY });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('echo: 常见的十字花科植物有哪些?\n');
    const bodies = server.requests.slice(from).map((q) => q.body).join('\n');
    expect(bodies).not.toContain('十字花科');
    expect(bodies).not.toContain('系统提示');
  });

  it('--json prints the decrypted completion; --image sends the picture encrypted', async () => {
    const image = join(home, 'dot.png');
    await writeFile(image, Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64'));
    const from = server.requests.length;
    const r = await cli(['chat', '--base-url', server.url, '--model', 'mock-model', '--image', image, '--json', 'what is this?'], { ARK_API_KEY: KEY });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).choices[0].message.content).toBe('echo: what is this? [image]');
    expect(server.requests.slice(from).map((q) => q.body).join('')).not.toContain('iVBORw0KGgo');
  });

  it('exit codes: 2 for bad usage, 1 when the service refuses', async () => {
    expect((await cli(['chat', 'hi'], { ARK_API_KEY: KEY })).code).toBe(2);
    expect((await cli(['chat', '--model', 'm', 'hi'])).stderr).toContain('ARK_API_KEY');
    const refused = await cli(['chat', '--base-url', server.url, '--model', 'mock-model', '--no-cache', 'hi'], { ARK_API_KEY: 'wrong' });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('ERR_ARK_E2EE_CERTIFICATE_UNAVAILABLE');
    expect((await cli(['nonsense'])).code).toBe(2);
    expect((await cli(['--help'])).stdout).toMatch(/chat[\s\S]*serve[\s\S]*cert[\s\S]*vectors/);
    for (const command of ['chat', 'serve', 'cert', 'vectors']) expect((await cli([command, '--help'])).code).toBe(0);
  });
});

describe('ark-e2ee chat with trust settings', () => {
  it('--pin and --trust-anchor: the right ones pass, a wrong pin stops the request before it is sent', async () => {
    const pin = await certificateKeyPin(server.certificatePem);
    const anchor = join(home, 'anchor.pem');
    await writeFile(anchor, server.certificatePem);
    const base = ['chat', '--base-url', server.url, '--model', 'mock-model', '--no-cache', '--no-stream'];
    const ok = await cli([...base, '--pin', pin, '--trust-anchor', anchor, 'pinned'], { ARK_API_KEY: KEY });
    expect(ok.stdout).toBe('echo: pinned\n');
    const from = server.requests.length;
    const wrong = await cli([...base, '--pin', Buffer.alloc(32, 1).toString('base64'), 'pinned'], { ARK_API_KEY: KEY });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('ERR_ARK_E2EE_INVALID_CERTIFICATE');
    expect(wrong.stderr).toContain(pin);
    expect(server.requests.slice(from).filter((r) => r.path.endsWith('/chat/completions'))).toEqual([]);
  });
});

describe('ark-e2ee cert', () => {
  it('fetches, caches with mode 0600, then reads from the cache', async () => {
    const cacheDir = join(home, 'certs');
    const env = { ARK_API_KEY: KEY };
    const first = await cli(['cert', 'mock-model', '--base-url', server.url, '--cache-dir', cacheDir, '--json'], env);
    expect(first.code).toBe(0);
    const shown = JSON.parse(first.stdout);
    expect(shown).toMatchObject({ model: 'mock-model', source: 'service', aicc: false, cacheFile: join(cacheDir, 'mock-model.pem') });
    expect(shown.fingerprintSha256).toMatch(/^([0-9a-f]{2}:){31}[0-9a-f]{2}$/);
    // The pin shown is exactly what pinnedKeys accepts, and the hex is the same digest.
    const pin = await certificateKeyPin(server.certificatePem);
    expect(shown.pinSha256).toBe(pin);
    expect(shown.fingerprintSha256.replaceAll(':', '')).toBe(Buffer.from(pin, 'base64').toString('hex'));
    expect((await stat(shown.cacheFile)).mode & 0o777).toBe(0o600);
    const fetches = server.certificateRequests;
    const second = JSON.parse((await cli(['cert', 'mock-model', '--base-url', server.url, '--cache-dir', cacheDir, '--json'], env)).stdout);
    expect(second.source).toBe('cache');
    expect(server.certificateRequests).toBe(fetches);
    expect(second.fingerprintSha256).toBe(shown.fingerprintSha256);
  });
});

describe('ark-e2ee serve', () => {
  it('prints its base URL and fingerprint, serves encrypted chats, stops on SIGTERM', async () => {
    const child = spawn('node', [CLI, 'serve', '--json', '--api-key', 'k2'], { env: { PATH: process.env.PATH ?? '', HOME: home } });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout }).once('line', resolve));
      const { url, fingerprint } = JSON.parse(line) as { url: string; fingerprint: string };
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/v3$/);
      expect(fingerprint).toMatch(/^([0-9a-f]{2}:){31}[0-9a-f]{2}$/);
      const r = await cli(['chat', '--base-url', url, '--model', 'mock-model', '--no-cache', '--no-stream', 'ping'], { ARK_API_KEY: 'k2' });
      expect(r.stdout).toBe('echo: ping\n');
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
