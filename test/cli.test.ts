/** The ark-e2ee command line, spawned as a user would, against the mock server. */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/run-cli.js';
import { certificateKeyPin } from '../src/index.js';
import { startMockArkServer, type MockArkServer } from '../src/testing/index.js';
import { originCacheFile } from './certificates/helpers.js';

const root = new URL('..', import.meta.url);
const CLI = new URL('dist/cli/main.js', root).pathname;
const KEY = 'cli-key';
let server: MockArkServer;
let home: string;

function cli(args: string[], env: Record<string, string> = {}): ReturnType<typeof runCli> {
  return runCli(args, home, env);
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
    const noKey = await cli(['chat', '--model', 'm', 'hi']);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/^ark-e2ee chat: set ARK_API_KEY to your Ark API key[^\n]*; run "ark-e2ee chat --help" for usage\n$/);
    const refused = await cli(['chat', '--base-url', server.url, '--model', 'mock-model', '--no-cache', 'hi'], { ARK_API_KEY: 'wrong' });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('ERR_ARK_E2EE_CERTIFICATE_UNAVAILABLE');
    const bare = await cli([]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/^ark-e2ee: give a command \(chat, serve, cert, proxy, doctor, demo, vectors\); run "ark-e2ee --help"[^\n]*\n$/);
    const unknown = await cli(['nonsense']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
    expect((await cli(['--help'])).stdout).toMatch(/chat[\s\S]*serve[\s\S]*cert[\s\S]*vectors/);
    for (const command of ['chat', 'serve', 'cert', 'proxy', 'doctor', 'vectors']) expect((await cli([command, '--help'])).code).toBe(0);
  });

  it('usage errors are one line saying what is wrong and where the help is, exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [['serve', '--port', 'abc'], /^ark-e2ee serve: --port must be a number from 0 to 65535, not "abc"; run "ark-e2ee serve --help" for usage\n$/],
      [['proxy', '--port', '99999'], /^ark-e2ee proxy: --port must be/],
      [['chat', '--model', 'm', '--pin', 'not-a-pin', 'hi'], /^ark-e2ee chat: --pin must be a base64 SHA-256 key pin/],
      [['chat', '--model', 'm', '--bogus', 'hi'], /^ark-e2ee chat: Unknown option '--bogus'.*run "ark-e2ee chat --help"/],
      [['doctor'], /^ark-e2ee doctor: give --model or set ARK_MODEL/],
    ];
    for (const [args, expected] of cases) {
      const r = await cli(args, { ARK_API_KEY: KEY });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(expected);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
  });

  it('several choices are labelled, a finish_reason that is not stop is named', async () => {
    const base = ['chat', '--base-url', server.url, '--model', 'mock-content-filter', '--no-cache'];
    const whole = await cli([...base, '--no-stream', 'hi'], { ARK_API_KEY: KEY });
    expect(whole.stdout).toBe('[choice 0] echo: hi\n[choice 1] The answer was withheld by the content filter.\n(finish_reason: content_filter)\n');
    const streamed = await cli([...base, 'hi'], { ARK_API_KEY: KEY });
    expect(streamed.stdout).toBe('echo: hi\nThe answer was withheld by the content filter.\n(finish_reason: content_filter)\n');
  });

  it('reasoning is shown before the answer (marked off a terminal); --no-reasoning hides it', async () => {
    const base = ['chat', '--base-url', server.url, '--model', 'mock-reasoning', '--no-cache'];
    for (const mode of [[], ['--no-stream']]) {
      const shown = await cli([...base, ...mode, 'why?'], { ARK_API_KEY: KEY });
      expect(shown.stdout).toBe('[reasoning] thinking about: echo: why?\necho: why?\n');
      const hidden = await cli([...base, ...mode, '--no-reasoning', 'why?'], { ARK_API_KEY: KEY });
      expect(hidden.stdout).toBe('echo: why?\n');
    }
  });

  it('--image goes by the content: a PNG named .txt is sent, a text named .png is refused', async () => {
    const png = join(home, 'picture.txt');
    await writeFile(png, Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64'));
    const from = server.requests.length;
    const ok = await cli(['chat', '--base-url', server.url, '--model', 'mock-model', '--no-cache', '--json', '--image', png, 'what?'], { ARK_API_KEY: KEY });
    expect(ok.code).toBe(0);
    const sent = server.requests.slice(from).find((r) => r.path.endsWith('/chat/completions'))!;
    expect(JSON.stringify(sent.decryptedMessages)).toContain('data:image/png;base64,iVBORw0KGgo');
    const fake = join(home, 'fake.png');
    await writeFile(fake, 'just text');
    const refused = await cli(['chat', '--base-url', server.url, '--model', 'mock-model', '--image', fake, 'what?'], { ARK_API_KEY: KEY });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('not a PNG, JPEG, GIF or WebP image');
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
  const env = { ARK_API_KEY: KEY };

  it("fetches and caches in the origin's folder (0644), then reads from the cache, saying so", async () => {
    const cacheDir = join(home, 'certs');
    const first = await cli(['cert', 'mock-model', '--base-url', server.url, '--cache-dir', cacheDir, '--json'], env);
    expect(first.code).toBe(0);
    const shown = JSON.parse(first.stdout);
    const file = originCacheFile(cacheDir, server.url);
    expect(shown).toMatchObject({
      model: 'mock-model', source: 'service', from: `the certificate service (${server.url}/e2e/get/certificate)`, aicc: false, cacheFile: file,
    });
    expect(shown.fingerprintSha256).toMatch(/^([0-9a-f]{2}:){31}[0-9a-f]{2}$/);
    // The pin shown is exactly what pinnedKeys accepts, and the hex is the same digest.
    const pin = await certificateKeyPin(server.certificatePem);
    expect(shown.pinSha256).toBe(pin);
    expect(shown.fingerprintSha256.replaceAll(':', '')).toBe(Buffer.from(pin, 'base64').toString('hex'));
    expect((await stat(file)).mode & 0o777).toBe(0o644);
    const fetches = server.certificateRequests;
    const second = JSON.parse((await cli(['cert', 'mock-model', '--base-url', server.url, '--cache-dir', cacheDir, '--json'], env)).stdout);
    expect(second).toMatchObject({ source: 'cache', from: `the cache file ${file}`, cacheFile: file });
    expect(server.certificateRequests).toBe(fetches);
    expect(second.fingerprintSha256).toBe(shown.fingerprintSha256);
    const text = await cli(['cert', 'mock-model', '--base-url', server.url, '--cache-dir', cacheDir], env);
    expect(text.stdout).toContain(`from          the cache file ${file}`);
  });

  it('against the mock with the default folder: shown, and nothing written under HOME (the loopback rule)', async () => {
    const own = await mkdtemp(join(tmpdir(), 'ark-e2ee-cli-home-'));
    for (const host of ['127.0.0.1', 'localhost', '[::ffff:127.0.0.1]']) {
      const url = new URL(server.url);
      const r = await cli(['cert', 'mock-model', '--base-url', `http://${host}:${url.port}${url.pathname}`, '--json'], { ...env, HOME: own });
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ source: 'service', cacheFile: null });
    }
    expect(await readdir(own)).toEqual([]);
  });

  it('--base-url is read as a request reads it: the same origin however spelled, the same cache file', async () => {
    const cacheDir = join(home, 'certs-spelled');
    const url = new URL(server.url);
    expect((await cli(['cert', 'mock-model', '--base-url', server.url, '--cache-dir', cacheDir], env)).code).toBe(0);
    const spelled = `HTTP://127.0.0.1:${url.port}${url.pathname}/`;
    const again = JSON.parse((await cli(['cert', 'mock-model', '--base-url', spelled, '--cache-dir', cacheDir, '--json'], env)).stdout);
    expect(again).toMatchObject({ source: 'cache', baseUrl: server.url });
    expect((await cli(['cert', 'mock-model', '--base-url', 'not a url'], env)).code).toBe(2);
  });

  it('a dead service: exit 1, even when another origin has the model cached', async () => {
    const cacheDir = join(home, 'certs-dead');
    expect((await cli(['cert', 'mock-model', '--base-url', server.url, '--cache-dir', cacheDir], env)).code).toBe(0);
    const dead = await cli(['cert', 'mock-model', '--base-url', 'http://127.0.0.1:9/api/v3', '--cache-dir', cacheDir, '--json'], env);
    expect(dead.code).toBe(1);
    expect(dead.stdout).toBe('');
    expect(dead.stderr).toMatch(/ERR_ARK_E2EE_CERTIFICATE_UNAVAILABLE/);
  });

  it('--pin and --trust-anchor are checked as chat checks them', async () => {
    const pin = await certificateKeyPin(server.certificatePem);
    const wrongPin = Buffer.alloc(32, 7).toString('base64');
    const args = ['cert', 'mock-model', '--base-url', server.url, '--no-cache', '--json'];
    expect((await cli([...args, '--pin', pin], env)).code).toBe(0);
    const refused = await cli([...args, '--pin', wrongPin], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/ERR_ARK_E2EE_INVALID_CERTIFICATE/);
    const anchor = join(home, 'cert-anchor.pem');
    await writeFile(anchor, server.certificatePem);
    expect((await cli([...args, '--trust-anchor', anchor], env)).code).toBe(0);
  });

  it('--cached shows the cache file without asking the service, and fails (exit 1) when there is none', async () => {
    const cacheDir = join(home, 'certs-cached');
    const args = ['cert', 'mock-model', '--base-url', server.url, '--cache-dir', cacheDir, '--cached', '--json'];
    const none = await cli(args, env);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(originCacheFile(cacheDir, server.url));
    expect((await cli(['cert', 'mock-model', '--base-url', server.url, '--cache-dir', cacheDir], env)).code).toBe(0);
    const fetches = server.certificateRequests;
    const shown = await cli(args, {});
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ source: 'cache', fresh: true, cacheAgeDays: 0, cacheFile: originCacheFile(cacheDir, server.url) });
    expect(server.certificateRequests).toBe(fetches);
    const wrongPin = Buffer.alloc(32, 7).toString('base64');
    expect((await cli([...args, '--pin', wrongPin], {})).code).toBe(1);
  });

  it('E2E_CERTIFICATE_PATH: shown as the source, the service not asked', async () => {
    const path = join(home, 'env-cert.pem');
    await writeFile(path, server.certificatePem);
    const fetches = server.certificateRequests;
    const r = await cli(['cert', 'mock-model', '--base-url', server.url, '--json'], { E2E_CERTIFICATE_PATH: path });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ source: 'env' });
    expect(JSON.parse(r.stdout).from).toContain(path);
    expect(server.certificateRequests).toBe(fetches);
  });
});

describe('ark-e2ee proxy --certificate-cache-size', () => {
  it('refuses a size that is not a whole number from 1 (exit 2)', async () => {
    for (const size of ['0', '-1', '1.5', 'many']) {
      const r = await cli(['proxy', '--upstream', server.url, '--port', '0', '--certificate-cache-size', size]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('--certificate-cache-size');
    }
  });

  it('serves more models than the bound: each request encrypted and answered', async () => {
    const child = spawn('node', [CLI, 'proxy', '--upstream', server.url, '--port', '0', '--no-cache', '--certificate-cache-size', '2'], {
      env: { PATH: process.env.PATH ?? '', HOME: home },
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout }).once('line', resolve));
      const url = /^listening on (http:\/\/\S+)$/.exec(line)![1]!;
      for (const model of ['mock-model', 'mock-pieces', 'mock-model-2', 'mock-model']) {
        const response = await fetch(`${url}/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${KEY}`, 'x-is-encrypted': 'true', 'content-type': 'application/json' },
          body: JSON.stringify({ model, messages: [{ role: 'user', content: `to ${model}` }] }),
        });
        expect(response.status).toBe(200);
        expect(((await response.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBe(`echo: to ${model}`);
      }
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

describe('ark-e2ee serve', () => {
  it('prints its base URL and key pin, serves encrypted chats, stops on SIGTERM', async () => {
    const child = spawn('node', [CLI, 'serve', '--json', '--api-key', 'k2'], { env: { PATH: process.env.PATH ?? '', HOME: home } });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout }).once('line', resolve));
      const { url, pin, fingerprint } = JSON.parse(line) as { url: string; pin: string; fingerprint: string };
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/v3$/);
      expect(fingerprint).toMatch(/^([0-9a-f]{2}:){31}[0-9a-f]{2}$/);
      expect(Buffer.from(pin, 'base64').toString('hex')).toBe(fingerprint.replaceAll(':', ''));
      // The pin printed is the one --pin takes.
      const r = await cli(['chat', '--base-url', url, '--model', 'mock-model', '--no-cache', '--no-stream', '--pin', pin, 'ping'], { ARK_API_KEY: 'k2' });
      expect(r.stdout).toBe('echo: ping\n');
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('--log prints what crossed the wire and what the mock decrypted, per request', async () => {
    const child = spawn('node', [CLI, 'serve', '--log'], { env: { PATH: process.env.PATH ?? '', HOME: home } });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      const [first, second] = await new Promise<string[]>((resolve) => {
        const seen: string[] = [];
        createInterface({ input: child.stdout }).on('line', (line) => {
          seen.push(line);
          if (seen.length === 2) resolve(seen);
        });
      });
      const url = first!.replace('base URL ', '');
      expect(second).toMatch(/^certificate key pin [A-Za-z0-9+/]{43}= \(for --pin and pinnedKeys\)$/);
      const r = await cli(['chat', '--base-url', url, '--model', 'mock-model', '--no-cache', '--system', 'be brief', 'secret question'], { ARK_API_KEY: 'any' });
      expect(r.code).toBe(0);
      await new Promise<void>((resolve) => {
        const poll = (): void => (stderr.includes('messages[1].content: wire') ? resolve() : void setTimeout(poll, 20));
        poll();
      });
      expect(stderr).toContain('POST /api/v3/e2e/get/certificate 200 certificate request model=mock-model');
      expect(stderr).toMatch(/POST \/api\/v3\/chat\/completions 200 model=mock-model encrypted\n/);
      expect(stderr).toMatch(/session token \(the client's ephemeral P-256 key\): B[A-Za-z0-9+/]{23}…\(88 characters\)/);
      expect(stderr).toContain('ciphertext on the wire: messages[0].content, messages[1].content');
      expect(stderr).toContain('plain on the wire: message roles and every other field (model, stream)');
      expect(stderr).toMatch(/messages\[1\]\.content: wire "[A-Za-z0-9+/=]{20,}.*" → decrypted "secret question"/);
      expect(stderr).toMatch(/answer: \d+ text\(s\) encrypted with the request's session/);
      await fetch(`${url}/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'mock-model', messages: [{ role: 'user', content: 'open' }] }) });
      await new Promise<void>((resolve) => {
        const poll = (): void => (stderr.includes('NOT ENCRYPTED') ? resolve() : void setTimeout(poll, 20));
        poll();
      });
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

describe('ark-e2ee doctor', () => {
  it('passes every step against the mock, with the pin and a cache folder', async () => {
    const pin = await certificateKeyPin(server.certificatePem);
    const cacheDir = join(home, 'doctor-cache');
    const r = await cli(['doctor', '--base-url', server.url, '--model', 'mock-model', '--pin', pin, '--cache-dir', cacheDir], { ARK_API_KEY: KEY });
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/✓ base URL reachable/);
    expect(r.stdout).toContain(`key pin ${pin}`);
    expect(r.stdout).toMatch(/✓ key pin: the certificate has one of the pins given/);
    expect(r.stdout).toMatch(/✓ one encrypted chat: sent as ciphertext, answer decrypted\n.*encrypted.*\n.*decrypted to "echo: ark-e2ee doctor probe/);
    expect(r.stdout).toMatch(/✓ certificate cache: used/);
    expect(r.stdout).toMatch(/every check passed\n$/);
  });

  it('says what failed and what to do: a wrong key, a wrong pin, an unreachable host', async () => {
    const wrongKey = await cli(['doctor', '--base-url', server.url, '--model', 'mock-model', '--no-cache'], { ARK_API_KEY: 'wrong' });
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stdout).toMatch(/✗ certificate of "mock-model".*\n.*HTTP 401.*\n\s+what to do: check ARK_API_KEY/);
    const wrongPin = await cli(['doctor', '--base-url', server.url, '--model', 'mock-model', '--no-cache', '--pin', Buffer.alloc(32, 1).toString('base64')], { ARK_API_KEY: KEY });
    expect(wrongPin.code).toBe(1);
    expect(wrongPin.stdout).toContain(`what to do: if this key is the model's, pass --pin ${await certificateKeyPin(server.certificatePem)}`);
    expect(wrongPin.stdout).toMatch(/✗ one encrypted chat.*\n.*ERR_ARK_E2EE_INVALID_CERTIFICATE/);
    const closed = await cli(['doctor', '--base-url', 'http://127.0.0.1:18999/api/v3', '--model', 'mock-model'], { ARK_API_KEY: KEY });
    expect(closed.code).toBe(1);
    expect(closed.stdout).toContain('connect ECONNREFUSED 127.0.0.1:18999');
    expect(closed.stdout).toMatch(/what to do: check --base-url/);
  });
});
