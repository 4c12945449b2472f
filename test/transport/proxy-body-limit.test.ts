/**
 * The proxy's limit on the body of a request it encrypts (maxRequestBytes, --max-body): a body
 * over the limit is answered 413 in OpenAI's error JSON, checked as the body streams in, and the
 * rest is not read. "Not read" is measured in bytes: the client makes its body lazily, one chunk
 * when the socket asks for more, and counts what it made.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/command.js';
import { InvalidOptionError } from '../../src/errors.js';
import { parseSize } from '../../src/cli/commands/proxy.js';
import { startMockArkServer, type MockArkServer } from '../../src/testing/index.js';
import { startEncryptingProxy, type EncryptingProxy, type ProxyLogEntry } from '../../src/transport/proxy.js';

const LIMIT = 1024 * 1024;
const CHUNK = 64 * 1024;
/** What the client would send: far more than the limit and than any socket buffer. */
const HUGE = 512 * 1024 * 1024;

let server: MockArkServer;
let proxy: EncryptingProxy;
const logs: ProxyLogEntry[] = [];

beforeAll(async () => {
  server = await startMockArkServer();
  proxy = await startEncryptingProxy({
    upstream: server.url,
    cacheDir: false,
    maxRequestBytes: LIMIT,
    onRequest: (entry) => logs.push(entry),
  });
});

afterAll(async () => {
  await proxy.close();
  await server.close();
});

/** A chat completion body of `total` bytes, made one chunk at a time as it is read. */
function lazyChatBody(total: number): { stream: Readable; made: () => number } {
  const head = Buffer.from('{"model":"mock-model","messages":[{"role":"user","content":"');
  const tail = Buffer.from('"}]}');
  let made = 0;
  const stream = new Readable({
    read() {
      if (made >= total) {
        this.push(null);
        return;
      }
      let chunk: Buffer;
      if (made === 0) chunk = head;
      else if (made + CHUNK + tail.length >= total) chunk = Buffer.concat([Buffer.alloc(total - made - tail.length, 'a'), tail]);
      else chunk = Buffer.alloc(CHUNK, 'a');
      made += chunk.byteLength;
      this.push(chunk);
    },
  });
  return { stream, made: () => made };
}

interface Outcome {
  status: number;
  body: string;
  error?: Error;
  /** Whether a "100 Continue" came (for a request that asked with Expect: 100-continue). */
  continued: boolean;
}

/** POSTs `body` to the proxy at `base`; settles with the answer (or the error) once the exchange is over. */
function send(headers: Record<string, string>, body: Readable | string, base = proxy.url): Promise<Outcome> {
  return new Promise((resolve) => {
    const url = new URL(`${base}/chat/completions`);
    const outcome: Outcome = { status: 0, body: '', continued: false };
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      resolve(outcome);
    };
    const req = httpRequest(
      { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': 'application/json', ...headers } },
      (response) => {
        outcome.status = response.statusCode ?? 0;
        response.setEncoding('utf8');
        response.on('data', (text: string) => {
          outcome.body += text;
        });
        response.on('end', finish);
        response.on('error', finish);
      },
    );
    req.on('error', (error) => {
      outcome.error = error;
      // The answer may still be on its way: give the response a moment to be parsed.
      if (outcome.status === 0) setTimeout(finish, 200);
    });
    const write = (): void => {
      if (typeof body === 'string') req.end(body);
      else body.pipe(req);
    };
    // A client that asked for "100 Continue" sends its body only once that came.
    if (/100-continue/i.test(headers.expect ?? '')) {
      req.flushHeaders();
      req.on('continue', () => {
        outcome.continued = true;
        write();
      });
    } else {
      write();
    }
  });
}

describe('proxy: the body limit of a request it encrypts', () => {
  it('a chunked body over the limit: 413 in OpenAI error JSON, and the rest is not read', async () => {
    const before = server.requests.length;
    const { stream, made } = lazyChatBody(HUGE);
    const outcome = await send({ 'x-is-encrypted': 'true', 'transfer-encoding': 'chunked' }, stream);
    stream.destroy();
    expect(outcome.status).toBe(413);
    const answer = JSON.parse(outcome.body) as { error: { message: string; type: string; code: string } };
    expect(answer.error.code).toBe('request_too_large');
    expect(answer.error.type).toBe('proxy_error');
    expect(answer.error.message).toContain(String(LIMIT));
    // The client made the limit, what the sockets buffer, and no more: a small part of its body.
    expect(made()).toBeGreaterThan(LIMIT);
    expect(made()).toBeLessThan(64 * 1024 * 1024);
    expect(server.requests.length).toBe(before);
    expect(logs.at(-1)).toMatchObject({ status: 413, encrypted: true });
  });

  it('a declared length over the limit: 413 before a byte of the body is read', async () => {
    const { stream, made } = lazyChatBody(HUGE);
    const outcome = await send({ 'x-is-encrypted': 'true', 'content-length': String(HUGE) }, stream);
    stream.destroy();
    expect(outcome.status).toBe(413);
    expect(made()).toBeLessThan(64 * 1024 * 1024);
  });

  it('Expect: 100-continue with a declared length over the limit: 413 and no 100, so no byte of the body is sent', async () => {
    const { stream, made } = lazyChatBody(HUGE);
    const outcome = await send(
      { 'x-is-encrypted': 'true', 'content-length': String(HUGE), expect: '100-continue' },
      stream,
    );
    stream.destroy();
    expect(outcome.status).toBe(413);
    expect(outcome.continued).toBe(false);
    expect(made()).toBe(0);
  });

  it('Expect: 100-continue within the limit, or without encryption: the 100 comes and the request goes through', async () => {
    const text = JSON.stringify({ model: 'mock-model', messages: [{ role: 'user', content: 'hello' }] });
    const length = String(Buffer.byteLength(text));
    const encrypted = await send({ 'x-is-encrypted': 'true', 'content-length': length, expect: '100-continue' }, text);
    expect(encrypted).toMatchObject({ status: 200, continued: true });
    expect(server.requests.at(-1)!.headers['x-session-token']).toBeDefined();
    const plain = await send({ 'content-length': length, expect: '100-continue' }, text);
    expect(plain).toMatchObject({ status: 200, continued: true });
    expect(server.requests.at(-1)!.body).toBe(text);
  });

  it('a body at the limit goes through, encrypted', async () => {
    const text = JSON.stringify({ model: 'mock-model', messages: [{ role: 'user', content: 'x'.repeat(LIMIT - 100) }] });
    const body = text + ' '.repeat(LIMIT - Buffer.byteLength(text));
    expect(Buffer.byteLength(body)).toBe(LIMIT);
    const outcome = await send({ 'x-is-encrypted': 'true', 'transfer-encoding': 'chunked' }, body);
    expect(outcome.status).toBe(200);
    const sent = server.requests.at(-1)!;
    expect(sent.headers['x-session-token']).toBeDefined();
    // 32 x's in a row: base64 of a ciphertext holds 'xxxx' by chance (about once in 12 such bodies)
    expect(sent.body).not.toContain('x'.repeat(32));
  });

  it('a body over the limit without the header passes through, streamed, as before', async () => {
    const text = JSON.stringify({ model: 'mock-model', messages: [{ role: 'user', content: 'y'.repeat(2 * LIMIT) }] });
    const outcome = await send({ 'transfer-encoding': 'chunked' }, text);
    expect(outcome.status).toBe(200);
    expect(server.requests.at(-1)!.body).toBe(text);
  });

  it('refuses a limit that is not a whole number of bytes', async () => {
    for (const maxRequestBytes of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      await expect(startEncryptingProxy({ upstream: server.url, cacheDir: false, maxRequestBytes })).rejects.toThrow(
        /maxRequestBytes/,
      );
      const error = await startEncryptingProxy({ upstream: server.url, cacheDir: false, maxRequestBytes }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect((error as InvalidOptionError).code).toBe('ERR_ARK_E2EE_INVALID_OPTION');
    }
  });

  it('refuses an upstream that is not http: or https: with a typed error', async () => {
    for (const upstream of ['ftp://127.0.0.1/', 'file:///etc/passwd', 'data:,x']) {
      const error = await startEncryptingProxy({ upstream, cacheDir: false }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect((error as Error).message).toMatch(/http: or https:/);
    }
  });
});

describe('proxy: --max-body', () => {
  const ROOT = fileURLToPath(new URL('../../', import.meta.url));
  const main = join(ROOT, 'dist/cli/main.js');

  it('reads a size in bytes or with a K, M or G suffix, and refuses anything else', () => {
    expect(parseSize('65536')).toBe(65536);
    expect(parseSize('512K')).toBe(512 * 1024);
    expect(parseSize('64M')).toBe(64 * 1024 * 1024);
    expect(parseSize('64MiB')).toBe(64 * 1024 * 1024);
    expect(parseSize('1g')).toBe(1024 ** 3);
    expect(parseSize('10b')).toBe(10);
    for (const bad of ['', '0', '-1', '1.5M', 'M', '12T', '12ib', '1e3', `${Number.MAX_SAFE_INTEGER}G`]) {
      expect(() => parseSize(bad)).toThrow(UsageError);
    }
  });

  it('the CLI answers 413 past --max-body and passes a body within it', async () => {
    const sources = ['src/cli/commands/proxy.ts', 'src/transport/proxy.ts'].map((f) => statSync(join(ROOT, f)).mtimeMs);
    const built = join(ROOT, 'dist/cli/commands/proxy.js');
    if (!existsSync(built) || statSync(built).mtimeMs < Math.max(...sources)) {
      spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT });
    }
    const child = spawn(process.execPath, [main, 'proxy', '--upstream', server.url, '--port', '0', '--no-cache', '--max-body', '2K'], {
      cwd: ROOT,
    });
    try {
      let stdout = '';
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.setEncoding('utf8').on('data', (d: string) => {
          stdout += d;
          const found = /^listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(stdout);
          if (found) resolve(found[1]!);
        });
        child.on('exit', (code) => reject(new Error(`exited ${code}`)));
      });
      const chat = (size: number): string =>
        JSON.stringify({ model: 'mock-model', messages: [{ role: 'user', content: 'z'.repeat(size) }] });
      const over = await send({ 'x-is-encrypted': 'true', 'transfer-encoding': 'chunked' }, chat(4096), url);
      expect(over.status).toBe(413);
      const within = await send({ 'x-is-encrypted': 'true' }, chat(1000), url);
      expect(within.status).toBe(200);
    } finally {
      child.kill('SIGTERM');
    }
  }, 120_000);

  it('the CLI refuses a --max-body that is not a size (exit code 2)', () => {
    const result = spawnSync(process.execPath, [main, 'proxy', '--max-body', 'lots'], { cwd: ROOT, encoding: 'utf8' });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('--max-body');
  });
});
