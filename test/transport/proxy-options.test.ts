/**
 * What the proxy refuses with a typed error: options that make no proxy (an upstream that is not
 * an http(s) URL, a port out of range) throw InvalidOptionError before anything listens; a
 * request whose target names no path is answered 400 in OpenAI's error JSON; a body over the limit
 * is a RequestTooLargeError inside, 413 outside. Nothing reaches the upstream in any of these.
 */
import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArkE2EEError, InvalidOptionError, RequestTooLargeError } from '../../src/errors.js';
import { startMockArkServer, type MockArkServer } from '../../src/testing/index.js';
import { limitedBody } from '../../src/transport/proxy-body.js';
import { startEncryptingProxy, type EncryptingProxy, type ProxyLogEntry } from '../../src/transport/proxy.js';
import { rawRequest } from '../helpers/raw-http.js';

let server: MockArkServer;
let proxy: EncryptingProxy;
const logs: ProxyLogEntry[] = [];

beforeAll(async () => {
  server = await startMockArkServer();
  proxy = await startEncryptingProxy({ upstream: server.url, cacheDir: false, maxRequestBytes: 1024, onRequest: (e) => logs.push(e) });
});
afterAll(async () => {
  await proxy.close();
  await server.close();
});

async function refusal(options: Parameters<typeof startEncryptingProxy>[0]): Promise<unknown> {
  const started = await startEncryptingProxy(options).catch((error: unknown) => error);
  if (!(started instanceof Error)) {
    await (started as EncryptingProxy).close();
    throw new Error(`the proxy started with ${JSON.stringify(options)}`);
  }
  return started;
}

describe('proxy options', () => {
  it.each([
    'not a url', '', '/api/v3', 'ark.cn-beijing.volces.com/api/v3', 'http//127.0.0.1', 'ftp://127.0.0.1/', 'file:///etc/passwd',
  ])('upstream %j: InvalidOptionError saying what an upstream must be', async (upstream) => {
    const error = await refusal({ upstream, cacheDir: false });
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).code).toBe('ERR_ARK_E2EE_INVALID_OPTION');
    expect((error as Error).message).toContain(JSON.stringify(upstream));
    expect((error as Error).message).toMatch(/absolute http: or https: URL/);
  });

  it.each([-1, 65536, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53])('port %s: InvalidOptionError', async (port) => {
    const error = await refusal({ upstream: server.url, cacheDir: false, port });
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as Error).message).toMatch(/port must be a whole number from 0/);
  });

  it('port 0 picks a free port', async () => {
    const free = await startEncryptingProxy({ upstream: server.url, cacheDir: false, port: 0 });
    expect(free.port).toBeGreaterThan(0);
    await free.close();
  });
});

describe('proxy: a request target that names no path', () => {
  it.each(['*', 'ftp://127.0.0.1/chat/completions', 'http://[::1', 'http://256.0.0.1/chat/completions'])(
    '%j: 400 invalid_request_target, nothing sent',
    async (target) => {
      const before = server.requests.length;
      const answer = await rawRequest(proxy.port, 'POST', target, [['x-is-encrypted', 'true']], '{"model":"m","messages":[]}');
      expect(answer.status).toBe(400);
      expect(answer.headers['content-type']).toMatch(/^application\/json/);
      const body = JSON.parse(answer.body) as { error: { code: string; type: string; message: string } };
      expect(body.error).toMatchObject({ code: 'invalid_request_target', type: 'invalid_request_error' });
      expect(body.error.message).toContain(JSON.stringify(target));
      expect(server.requests.length).toBe(before);
      expect(logs.at(-1)).toMatchObject({ status: 400, sent: 'nothing', path: target });
    },
  );

  it.each(['chat/completions', '127.0.0.1:443', 'urn:chat'])('%j: refused by the HTTP parser before the proxy sees it, nothing sent', async (target) => {
    const before = server.requests.length;
    const answer = await rawRequest(proxy.port, 'POST', target, [['x-is-encrypted', 'true']], '{}');
    expect(answer.status).toBe(400);
    expect(server.requests.length).toBe(before);
  });

  it('an absolute http URL is forwarded by its path and query', async () => {
    const answer = await rawRequest(proxy.port, 'GET', 'http://elsewhere.invalid/models?x=1', []);
    expect(answer.status).not.toBe(400);
    expect(server.requests.at(-1)!.path).toBe('/api/v3/models?x=1');
  });
});

describe('proxy: the request body limit', () => {
  /** An IncomingMessage stand-in: the body in `chunks`, and the headers the limit reads. */
  function incoming(chunks: Uint8Array[], headers: Record<string, string> = {}): IncomingMessage {
    return Object.assign(Readable.from(chunks.map((c) => Buffer.from(c))), { headers }) as unknown as IncomingMessage;
  }

  it('a body over the limit, declared or streamed, is a RequestTooLargeError with its limit', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ minLength: 1, maxLength: 64 }), { maxLength: 8 }), fc.integer({ min: 1, max: 300 }),
        fc.boolean(), async (chunks, limit, declared) => {
          const size = chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0);
          const headers: Record<string, string> = declared ? { 'content-length': String(size) } : {};
          const result = await limitedBody(incoming(chunks, headers), limit).catch((error: unknown) => error);
          if (size <= limit) {
            expect(result).toEqual(new Uint8Array(Buffer.concat(chunks)));
            return;
          }
          expect(result).toBeInstanceOf(RequestTooLargeError);
          expect(result).toBeInstanceOf(ArkE2EEError);
          expect((result as RequestTooLargeError).code).toBe('ERR_ARK_E2EE_REQUEST_TOO_LARGE');
          expect((result as RequestTooLargeError).limit).toBe(limit);
          expect((result as Error).message).toContain(`${limit} bytes`);
        }),
      { numRuns: 200 },
    );
  });

  it('through the proxy: 413 request_too_large, nothing sent', async () => {
    const before = server.requests.length;
    const text = JSON.stringify({ model: 'mock-model', messages: [{ role: 'user', content: 'z'.repeat(2048) }] });
    const answer = await rawRequest(proxy.port, 'POST', '/chat/completions', [['x-is-encrypted', 'true']], text);
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toMatchObject({ error: { code: 'request_too_large', type: 'proxy_error' } });
    expect(server.requests.length).toBe(before);
  });
});
