/**
 * The edges of the encrypting proxy (src/transport/proxy.ts) that a mutation run left untested
 * (issue 16): which request and answer headers cross it, how a request body goes up (bytes of a
 * known length, a stream when chunked or too long to hold, refused over the limit with
 * encryptAll), how the upstream URL is made from the upstream option, the option checks, the
 * error answers the proxy writes itself (status, code, the message a user reads, connection
 * closed only after a 413), backpressure on a slow client, and what onRequest is told.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, createServer as createNetServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import zlib, { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { InvalidOptionError } from '../../src/errors.js';
import { CERTIFICATE_PATH } from '../../src/protocol/constants.js';
import { startEncryptingProxy, type EncryptingProxy, type EncryptingProxyOptions, type ProxyLogEntry } from '../../src/transport/proxy.js';
import { startHostileServer, type HostileServer } from '../helpers/hostile-server.js';

const BUFFER_LIMIT = 32 * 1024 * 1024;

interface Seen { method: string; url: string; headers: IncomingMessage['headers']; body: Buffer }
const seen: Seen[] = [];
/** Requests whose head arrived (before their body ended). */
const started: IncomingMessage[] = [];
/** Bytes the /forever route wrote. */
let foreverWritten = 0;
let upstream: Server;
let upstreamPort: number;
let hostile: HostileServer;
const proxies: EncryptingProxy[] = [];

function route(request: IncomingMessage, response: ServerResponse, body: Buffer): void {
  const path = (request.url ?? '').replace(/\?.*/, '');
  switch (path) {
    case '/v1/host-header':
      response.writeHead(200, { host: 'evil.example', 'x-kept': 'yes' });
      return void response.end('ok');
    case '/v1/gzip-kept': {
      const zipped = gzipSync('hello, decoded');
      response.writeHead(200, { 'content-encoding': 'gzip', 'content-length': zipped.length, 'x-kept': 'yes' });
      return void response.end(zipped);
    }
    case '/v1/gzip-odd': {
      // A coding fetch does not know: it undoes none, and the answer must keep saying so.
      const zipped = gzipSync('still zipped');
      response.writeHead(200, { 'content-encoding': 'gzip, x-custom', 'content-length': zipped.length });
      return void response.end(zipped);
    }
    case '/v1/gzip-trailing': {
      // An empty coding after the comma: fetch knows no such coding, so it undoes none.
      const zipped = gzipSync('still zipped');
      response.writeHead(200, { 'content-encoding': 'gzip,', 'content-length': zipped.length });
      return void response.end(zipped);
    }
    case '/v1/not-modified':
      response.writeHead(304, { 'content-encoding': 'gzip', etag: '"1"' });
      return void response.end();
    case '/v1/zstd':
      // Not real zstd: on a runtime whose fetch cannot undo zstd, it must go on as sent.
      response.writeHead(200, { 'content-encoding': 'zstd', 'content-length': 10 });
      return void response.end('zstd-bytes');
    case '/v1/reason':
      response.writeHead(201, 'Made Here', { 'content-length': 2 });
      return void response.end('ok');
    case '/v1/no-reason':
      response.writeHead(200, '', { 'content-length': 2 });
      return void response.end('ok');
    case '/v1/no-content':
      response.writeHead(204);
      return void response.end();
    case '/v1/big':
      response.writeHead(200, { 'content-type': 'application/octet-stream' });
      return void response.end(Buffer.alloc(8 * 1024 * 1024, 'b'));
    case '/v1/cut':
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write('data: one\n\n');
      setTimeout(() => response.destroy(), 50);
      return;
    case '/v1/slow':
      setTimeout(() => response.end('late'), 300);
      return;
    case `/v1${CERTIFICATE_PATH}`:
      response.writeHead(403, { 'content-type': 'application/json' });
      return void response.end(JSON.stringify({ error: { code: 'AccessDenied', message: 'not for this account' } }));
    default:
      response.writeHead(200, { 'content-type': 'text/plain', 'x-body-bytes': String(body.byteLength) });
      response.end('plain');
  }
}

beforeAll(async () => {
  upstream = createServer((request, response) => {
    started.push(request);
    if (request.url === '/v1/forever') {
      response.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024, 'f');
      let closed = false;
      response.on('close', () => (closed = true));
      const pump = (): void => {
        while (!closed) {
          foreverWritten += chunk.byteLength;
          if (!response.write(chunk)) return void response.once('drain', pump);
        }
      };
      pump();
      return;
    }
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body });
      route(request, response, body);
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamPort = (upstream.address() as AddressInfo).port;
  hostile = await startHostileServer(({ request, response, seal }) => {
    if (request.url?.includes('/undecryptable/')) {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: 'A'.repeat(24) } }] }));
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: seal('fine') } }] }));
  });
});
afterAll(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  upstream.closeAllConnections();
  await new Promise((resolve) => upstream.close(resolve));
  await hostile.close();
});

const upstreamUrl = (path = '/v1'): string => `http://127.0.0.1:${upstreamPort}${path}`;

async function startProxy(options: Partial<EncryptingProxyOptions> = {}): Promise<{ proxy: EncryptingProxy; logs: ProxyLogEntry[] }> {
  const logs: ProxyLogEntry[] = [];
  const proxy = await startEncryptingProxy({ upstream: upstreamUrl(), cacheDir: false, onRequest: (entry) => logs.push(entry), ...options });
  proxies.push(proxy);
  return { proxy, logs };
}

interface RawAnswer {
  statusLine: string;
  status: number;
  /** Header lines as sent, names lower-cased. */
  headers: [string, string][];
  body: string;
}
const header = (answer: RawAnswer, name: string): string[] => answer.headers.filter(([n]) => n === name).map(([, v]) => v);

/**
 * A socket to the proxy on which requests are written byte for byte; `next()` resolves with the
 * next whole answer (by its length, its chunks, or the connection's end; none after a HEAD), so a connection kept
 * open can carry a second request.
 */
function rawConnection(port: number): { socket: Socket; send: (bytes: string | Buffer) => void; next: (noBody?: boolean) => Promise<RawAnswer>; closed: Promise<void>; received: () => string } {
  const socket = connect(port, '127.0.0.1');
  let buffer = Buffer.alloc(0);
  let ended = false;
  let all = '';
  const waiters: (() => void)[] = [];
  const wake = (): void => waiters.splice(0).forEach((w) => w());
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    all += chunk.toString('latin1');
    wake();
  });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.on('close', () => {
    ended = true;
    wake();
    resolve();
  }));
  const parse = (noBody: boolean): RawAnswer | undefined => {
    for (;;) {
      const split = buffer.indexOf('\r\n\r\n');
      if (split < 0) return undefined;
      const lines = buffer.subarray(0, split).toString('latin1').split('\r\n');
      const statusLine = lines[0]!;
      const status = Number(statusLine.split(' ')[1]);
      const headers = lines.slice(1).map((line): [string, string] => {
        const colon = line.indexOf(':');
        return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()];
      });
      const rest = buffer.subarray(split + 4);
      if (status === 100) {
        buffer = rest;
        continue;
      }
      if (noBody || status === 204 || status === 304) {
        buffer = rest;
        return { statusLine, status, headers, body: '' };
      }
      const length = headers.find(([n]) => n === 'content-length')?.[1];
      if (length !== undefined) {
        if (rest.byteLength < Number(length)) return undefined;
        buffer = rest.subarray(Number(length));
        return { statusLine, status, headers, body: rest.subarray(0, Number(length)).toString('utf8') };
      }
      if (headers.some(([n, v]) => n === 'transfer-encoding' && v === 'chunked')) {
        const parts: Buffer[] = [];
        let at = 0;
        for (;;) {
          const end = rest.indexOf('\r\n', at);
          if (end < 0) return undefined;
          const size = Number.parseInt(rest.subarray(at, end).toString('latin1'), 16);
          if (size === 0) {
            if (rest.byteLength < end + 4) return undefined;
            buffer = rest.subarray(end + 4);
            return { statusLine, status, headers, body: Buffer.concat(parts).toString('utf8') };
          }
          if (rest.byteLength < end + 2 + size + 2) return undefined;
          parts.push(rest.subarray(end + 2, end + 2 + size));
          at = end + 2 + size + 2;
        }
      }
      if (!ended) return undefined;
      buffer = Buffer.alloc(0);
      return { statusLine, status, headers, body: rest.toString('utf8') };
    }
  };
  const next = async (noBody = false): Promise<RawAnswer> => {
    for (;;) {
      const answer = parse(noBody);
      if (answer) return answer;
      if (ended) throw new Error(`the connection closed without a whole answer: ${JSON.stringify(all)}`);
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  return { socket, send: (bytes) => socket.write(bytes), next, closed, received: () => all };
}

/** One request on its own connection (closed by the proxy after the answer). */
async function raw(port: number, head: string, body: string | Buffer = ''): Promise<RawAnswer> {
  const connection = rawConnection(port);
  connection.send(Buffer.concat([Buffer.from(`${head}\r\nConnection: close\r\n\r\n`, 'latin1'), Buffer.from(body)]));
  const answer = await connection.next(head.startsWith('HEAD '));
  connection.socket.destroy();
  return answer;
}

const errorOf = (answer: RawAnswer): { message: string; type: string; code: string } =>
  (JSON.parse(answer.body) as { error: { message: string; type: string; code: string } }).error;

describe('request headers that go up', () => {
  it('names listed in Connection are dropped however they are spaced and spelled; accept-encoding is always identity', async () => {
    const { proxy } = await startProxy();
    seen.length = 0;
    const answer = await raw(proxy.port, [
      'GET /models HTTP/1.1', 'Host: 127.0.0.1', 'Connection: keep-alive,  X-Private ,X-Other',
      'X-Private: secret', 'x-other: also', 'X-Kept: yes', 'Accept-Encoding: gzip, br',
    ].join('\r\n'));
    expect(answer.status).toBe(200);
    const up = seen.at(-1)!;
    expect(up.headers['x-private']).toBeUndefined();
    expect(up.headers['x-other']).toBeUndefined();
    expect(up.headers['x-kept']).toBe('yes');
    expect(up.headers['accept-encoding']).toBe('identity');
    expect(up.headers.host).toBe(`127.0.0.1:${upstreamPort}`);
  });
});

describe('the request body as it goes up', () => {
  it('GET and HEAD go up without a body; a length of 0 as an empty body, no length and no chunks as none', async () => {
    const bodies: unknown[] = [];
    const recording: typeof fetch = async (input, init) => {
      bodies.push(init?.body);
      return fetch(input, init);
    };
    const { proxy } = await startProxy({ fetch: recording });
    seen.length = 0;
    const head = await raw(proxy.port, 'HEAD /thing HTTP/1.1\r\nHost: x\r\nContent-Length: 0');
    expect(head.status).toBe(200);
    expect(seen.at(-1)).toMatchObject({ method: 'HEAD', url: '/v1/thing' });
    expect((await raw(proxy.port, 'GET /thing HTTP/1.1\r\nHost: x\r\nContent-Length: 0')).status).toBe(200);
    expect((await raw(proxy.port, 'DELETE /thing HTTP/1.1\r\nHost: x\r\nContent-Length: 0')).status).toBe(200);
    expect((await raw(proxy.port, 'DELETE /thing HTTP/1.1\r\nHost: x')).status).toBe(200);
    expect(seen.at(-1)!.headers['transfer-encoding']).toBeUndefined();
    expect((await raw(proxy.port, 'PATCH /thing HTTP/1.1\r\nHost: x\r\nContent-Length: 2', 'ab')).status).toBe(200);
    expect(bodies).toEqual([undefined, undefined, '', undefined, new Uint8Array(Buffer.from('ab'))]);
  });

  it('a chunked body goes up as a stream (chunked), a known length as bytes with that length', async () => {
    const { proxy } = await startProxy();
    seen.length = 0;
    const chunked = await raw(proxy.port, 'POST /files HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked', '3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n');
    expect(chunked.status).toBe(200);
    expect(seen.at(-1)!.body.toString()).toBe('abcde');
    expect(seen.at(-1)!.headers['transfer-encoding']).toBe('chunked');
    expect(seen.at(-1)!.headers['content-length']).toBeUndefined();
  });

  it('a body of exactly BUFFER_LIMIT bytes is held and sent with its length; one byte more goes up as a stream at once', async () => {
    const { proxy } = await startProxy();
    seen.length = 0;
    const exact = await raw(proxy.port, `POST /files HTTP/1.1\r\nHost: x\r\nContent-Length: ${BUFFER_LIMIT}`, Buffer.alloc(BUFFER_LIMIT, 'e'));
    expect(exact.status).toBe(200);
    expect(seen.at(-1)!.headers['content-length']).toBe(String(BUFFER_LIMIT));
    expect(seen.at(-1)!.body.byteLength).toBe(BUFFER_LIMIT);
    // Over the limit: the upstream gets the request before the client has sent its body.
    started.length = 0;
    const connection = rawConnection(proxy.port);
    connection.send(`POST /files HTTP/1.1\r\nHost: x\r\nContent-Length: ${BUFFER_LIMIT + 1}\r\n\r\nfirst bytes`);
    await vi.waitFor(() => expect(started).toHaveLength(1));
    expect(started[0]!.headers['transfer-encoding']).toBe('chunked');
    connection.socket.destroy();
  }, 30_000);

  it('with encryptAll, a plain body up to BUFFER_LIMIT is read and sent; one byte more is refused 400 and nothing goes up', async () => {
    const { proxy, logs } = await startProxy({ encryptAll: true });
    seen.length = 0;
    const chunkedHead = 'POST /files HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked';
    const body = (size: number): Buffer => Buffer.concat([Buffer.from(`${size.toString(16)}\r\n`), Buffer.alloc(size, 'x'), Buffer.from('\r\n0\r\n\r\n')]);
    const exact = await raw(proxy.port, chunkedHead, body(BUFFER_LIMIT));
    expect(exact.status).toBe(200);
    expect(seen.at(-1)!.body.byteLength).toBe(BUFFER_LIMIT);
    expect(seen.at(-1)!.headers['content-length']).toBe(String(BUFFER_LIMIT));
    const before = seen.length;
    const over = await raw(proxy.port, chunkedHead, body(BUFFER_LIMIT + 1));
    expect(over.status).toBe(400);
    expect(errorOf(over)).toEqual({
      type: 'ark_e2ee_error',
      code: 'ERR_ARK_E2EE_UNSUPPORTED_REQUEST',
      message: `with encryptAll the proxy reads every request body it does not encrypt, to make sure it carries no chat messages, and this one is over ${BUFFER_LIMIT} bytes; nothing was sent`,
    });
    expect(seen.length).toBe(before);
    await vi.waitFor(() => expect(logs).toHaveLength(2));
    expect(logs[1]!.error).toBe(`ERR_ARK_E2EE_UNSUPPORTED_REQUEST: ${errorOf(over).message}`);
  }, 30_000);

  it('with encryptAll, only a POST chat completion is encrypted: a GET of the same path passes through', async () => {
    const { proxy } = await startProxy({ encryptAll: true });
    const answer = await raw(proxy.port, 'GET /chat/completions HTTP/1.1\r\nHost: x');
    expect(answer.status).toBe(200);
    expect(seen.at(-1)!.headers['x-is-encrypted']).toBeUndefined();
  });
});

describe('the upstream URL', () => {
  it('trailing slashes of the upstream path are dropped, the query kept; an absolute https target names its path', async () => {
    for (const base of ['/v1/', '/v1//']) {
      const { proxy } = await startProxy({ upstream: upstreamUrl(base) });
      const answer = await raw(proxy.port, 'GET /models?limit=2 HTTP/1.1\r\nHost: x');
      expect(answer.status).toBe(200);
      expect(seen.at(-1)!.url).toBe('/v1/models?limit=2');
      const absolute = await raw(proxy.port, 'GET https://elsewhere.invalid/models?x=1 HTTP/1.1\r\nHost: x');
      expect(absolute.status).toBe(200);
      expect(seen.at(-1)!.url).toBe('/v1/models?x=1');
    }
  });

  it('a request for exactly the upstream base path is answered 404 doubled_base_path, saying what to do', async () => {
    const { proxy, logs } = await startProxy();
    const before = seen.length;
    const answer = await raw(proxy.port, 'GET /v1 HTTP/1.1\r\nHost: 127.0.0.1:9');
    expect(answer.status).toBe(404);
    const error = errorOf(answer);
    expect(error).toEqual({
      type: 'invalid_request_error',
      code: 'doubled_base_path',
      message: 'the path /v1 already starts with the upstream\'s base path /v1, which the proxy adds itself (it would go up as ' +
        '/v1/v1); nothing was sent. Give the client the proxy root as its base URL: http://127.0.0.1:9, not http://127.0.0.1:9/v1',
    });
    expect(seen.length).toBe(before);
    await vi.waitFor(() => expect(logs).toHaveLength(1));
    expect(logs[0]).toMatchObject({ status: 404, encrypted: false, sent: 'nothing', error: `doubled_base_path: ${error.message}` });
  });

  it('without a Host line (HTTP/1.0) the doubled-path message names the proxy as PROXY', async () => {
    const { proxy } = await startProxy();
    const answer = await raw(proxy.port, 'GET /v1/models HTTP/1.0');
    expect(answer.status).toBe(404);
    expect(errorOf(answer).message).toContain('Give the client the proxy root as its base URL: http://PROXY, not http://PROXY/v1');
  });

  it('a target that names no path: 400 invalid_request_target, with what to do, logged', async () => {
    const { proxy, logs } = await startProxy();
    const answer = await raw(proxy.port, 'GET * HTTP/1.1\r\nHost: x');
    expect(answer.status).toBe(400);
    const error = errorOf(answer);
    expect(error.message).toBe('the request target "*" is neither a path (/chat/completions) nor an http(s) URL; nothing was sent. ' +
      'Give the client the proxy root as its base URL');
    await vi.waitFor(() => expect(logs).toHaveLength(1));
    expect(logs[0]).toMatchObject({ status: 400, encrypted: false, error: `invalid_request_target: ${error.message}` });
  });
});

describe('answer headers and status that come down', () => {
  it('a host header of the upstream answer is not passed on', async () => {
    const { proxy } = await startProxy();
    const answer = await raw(proxy.port, 'GET /host-header HTTP/1.1\r\nHost: x');
    expect(header(answer, 'x-kept')).toEqual(['yes']);
    expect(header(answer, 'host')).toEqual([]);
    expect(header(answer, 'set-cookie')).toEqual([]);
  });

  it('a decoded gzip answer keeps its other headers; an answer with a coding fetch does not know keeps its coding', async () => {
    const { proxy } = await startProxy();
    const decoded = await raw(proxy.port, 'GET /gzip-kept HTTP/1.1\r\nHost: x');
    expect(decoded.body).toBe('hello, decoded');
    expect(header(decoded, 'x-kept')).toEqual(['yes']);
    expect(header(decoded, 'content-encoding')).toEqual([]);
    const kept = await fetch(`${proxy.url}/gzip-odd`);
    expect(kept.headers.get('content-encoding')).toBe('gzip, x-custom');
  });

  it('a coding fetch did not undo stays on the answer, with its length: an empty coding, zstd where fetch has no zstd, a HEAD', async () => {
    const { proxy } = await startProxy();
    const zippedLength = String(gzipSync('still zipped').length);
    const trailing = await raw(proxy.port, 'GET /gzip-trailing HTTP/1.1\r\nHost: x');
    expect(header(trailing, 'content-encoding')).toEqual(['gzip,']);
    expect(header(trailing, 'content-length')).toEqual([zippedLength]);
    // Still gzip (its magic number's first byte; the raw reader reads the body as UTF-8).
    expect(trailing.body.charCodeAt(0)).toBe(0x1f);
    expect(trailing.body).not.toContain('still zipped');
    // A HEAD has no body for fetch to undo: its headers describe the GET's, coding and length.
    const head = await raw(proxy.port, 'HEAD /gzip-kept HTTP/1.1\r\nHost: x');
    expect(header(head, 'content-encoding')).toEqual(['gzip']);
    expect(header(head, 'content-length')).toEqual([String(gzipSync('hello, decoded').length)]);
    // A 304 has no body either: its coding is the stored answer's, and stays.
    const notModified = await fetch(`${proxy.url}/not-modified`);
    expect(notModified.status).toBe(304);
    expect(notModified.headers.get('content-encoding')).toBe('gzip');
    if (typeof (zlib as { createZstdDecompress?: unknown }).createZstdDecompress !== 'function') {
      const zstd = await raw(proxy.port, 'GET /zstd HTTP/1.1\r\nHost: x');
      expect(header(zstd, 'content-encoding')).toEqual(['zstd']);
      expect(header(zstd, 'content-length')).toEqual(['10']);
      expect(zstd.body).toBe('zstd-bytes');
    }
  });

  it('the upstream reason phrase is passed on, and an empty one leaves the standard one', async () => {
    const { proxy } = await startProxy();
    expect((await raw(proxy.port, 'GET /reason HTTP/1.1\r\nHost: x')).statusLine).toBe('HTTP/1.1 201 Made Here');
    expect((await raw(proxy.port, 'GET /no-reason HTTP/1.1\r\nHost: x')).statusLine).toBe('HTTP/1.1 200 OK');
  });

  it('an answer without a body (204) ends cleanly', async () => {
    const { proxy, logs } = await startProxy();
    const answer = await raw(proxy.port, 'GET /no-content HTTP/1.1\r\nHost: x');
    expect(answer.status).toBe(204);
    await vi.waitFor(() => expect(logs).toHaveLength(1));
    expect(logs[0]).toMatchObject({ status: 204, sent: 'plain' });
    expect(logs[0]!.error).toBeUndefined();
  });
});

describe('answers the proxy writes itself', () => {
  it('only a 413 closes the connection: a 400 leaves it open for the next request', async () => {
    const { proxy } = await startProxy({ maxRequestBytes: 4 });
    const connection = rawConnection(proxy.port);
    connection.send('GET /models HTTP/1.1\r\nHost: x\r\nx-is-encrypted: true\r\n\r\n');
    const refused = await connection.next();
    expect(refused.status).toBe(400);
    expect(header(refused, 'connection')).not.toContain('close');
    connection.send('GET /models HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await connection.next()).status).toBe(200);
    connection.send('POST /chat/completions HTTP/1.1\r\nHost: x\r\nx-is-encrypted: true\r\nContent-Length: 5\r\n\r\n');
    const tooLarge = await connection.next();
    expect(tooLarge.status).toBe(413);
    expect(header(tooLarge, 'connection')).toEqual(['close']);
    expect(errorOf(tooLarge)).toMatchObject({ type: 'proxy_error', code: 'request_too_large' });
    await connection.closed;
  });

  it('an encrypted GET or HEAD is refused as a request that cannot be encrypted (400), its body not read against the limit', async () => {
    const { proxy } = await startProxy({ maxRequestBytes: 4 });
    for (const method of ['GET', 'HEAD']) {
      const answer = await raw(proxy.port, `${method} /models HTTP/1.1\r\nHost: x\r\nx-is-encrypted: true\r\nContent-Length: 5`, 'abcde');
      expect(answer.status).toBe(400);
      if (method === 'GET') expect(errorOf(answer).code).toBe('ERR_ARK_E2EE_UNSUPPORTED_REQUEST');
    }
  });

  it('a 413 is sent before "100 Continue": the client that asked need not send its body', async () => {
    const { proxy } = await startProxy({ maxRequestBytes: 4 });
    const connection = rawConnection(proxy.port);
    connection.send('POST /chat/completions HTTP/1.1\r\nHost: x\r\nx-is-encrypted: true\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n');
    const answer = await connection.next();
    expect(answer.status).toBe(413);
    expect(connection.received()).not.toContain('100 Continue');
    connection.socket.destroy();
  });

  it('the certificate service\'s 403 (a key without access) is passed on as 403', async () => {
    const { proxy, logs } = await startProxy();
    const body = '{"model":"m","messages":[{"role":"user","content":"q"}]}';
    const answer = await raw(proxy.port, `POST /chat/completions HTTP/1.1\r\nHost: x\r\nx-is-encrypted: true\r\nContent-Length: ${body.length}`, body);
    expect(answer.status).toBe(403);
    expect(errorOf(answer)).toMatchObject({ type: 'ark_e2ee_error', code: 'ERR_ARK_E2EE_CERTIFICATE_UNAVAILABLE' });
    await vi.waitFor(() => expect(logs).toHaveLength(1));
    expect(logs[0]!.error).toMatch(/^ERR_ARK_E2EE_CERTIFICATE_UNAVAILABLE: /);
  });

  it('an unreachable upstream: 502 upstream_unreachable, with the cause when the error has one', async () => {
    const failing = (error: Error): typeof fetch => async () => {
      throw error;
    };
    const bare = await startProxy({ fetch: failing(new Error('no route to the service')) });
    const plain = await raw(bare.proxy.port, 'GET /models HTTP/1.1\r\nHost: x');
    expect(plain.status).toBe(502);
    expect(errorOf(plain)).toEqual({ type: 'proxy_error', code: 'upstream_unreachable', message: 'the upstream could not be reached: no route to the service' });
    const caused = await startProxy({ fetch: failing(new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED') })) });
    const withCause = await raw(caused.proxy.port, 'GET /models HTTP/1.1\r\nHost: x');
    expect(errorOf(withCause).message).toBe('the upstream could not be reached: fetch failed (connect ECONNREFUSED)');
  });

  it('a header value node cannot send: 500 proxy_failure, logged', async () => {
    const odd: typeof fetch = async () => new Response('x', { headers: { 'x-odd': 'a\u0001b' } });
    const { proxy, logs } = await startProxy({ fetch: odd });
    const answer = await raw(proxy.port, 'GET /models HTTP/1.1\r\nHost: x');
    expect(answer.status).toBe(500);
    const error = errorOf(answer);
    expect(error).toMatchObject({ type: 'proxy_error', code: 'proxy_failure' });
    expect(error.message).toMatch(/^proxy failure: .*x-odd/);
    await vi.waitFor(() => expect(logs).toHaveLength(1));
    expect(logs[0]!.error).toBe(error.message);
  });

  it('a JSON answer that does not decrypt: 502, and the log says the request went up encrypted', async () => {
    const { proxy, logs } = await startProxy({ upstream: hostile.url, certificate: hostile.pem, sessionPool: 0 });
    const answer = await fetch(`${proxy.url}/undecryptable/chat/completions`, {
      method: 'POST',
      headers: { 'x-is-encrypted': 'true', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'q' }] }),
    });
    expect(answer.status).toBe(502);
    await vi.waitFor(() => expect(logs).toHaveLength(1));
    expect(logs[0]).toMatchObject({ status: 502, encrypted: true, sent: 'encrypted' });
    expect(logs[0]!.error).toMatch(/^ERR_ARK_E2EE_DECRYPTION_FAILED: /);
  });
});

describe('streaming the answer down', () => {
  it('an answer larger than the socket takes at once arrives whole', async () => {
    const { proxy } = await startProxy();
    const answer = await fetch(`${proxy.url}/big`);
    expect((await answer.arrayBuffer()).byteLength).toBe(8 * 1024 * 1024);
  });

  it('a client that does not read holds the upstream back (backpressure)', async () => {
    const { proxy } = await startProxy();
    const connection = rawConnection(proxy.port);
    connection.socket.pause();
    foreverWritten = 0;
    connection.send('GET /forever HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(foreverWritten).toBeGreaterThan(0);
    expect(foreverWritten).toBeLessThan(64 * 1024 * 1024);
    connection.socket.destroy();
  });

  it('an answer the upstream cuts is cut for the client, and logged as cut', async () => {
    const { proxy, logs } = await startProxy();
    const answer = await fetch(`${proxy.url}/cut`);
    const reader = answer.body!.getReader();
    let text = '';
    await expect((async () => {
      for (let part = await reader.read(); !part.done; part = await reader.read()) text += new TextDecoder().decode(part.value);
    })()).rejects.toThrow();
    expect(text).toBe('data: one\n\n');
    await vi.waitFor(() => expect(logs).toHaveLength(1));
    expect(logs[0]).toMatchObject({ status: 200, sent: 'plain' });
    expect(logs[0]!.error).toMatch(/^answer cut: ./);
  });
});

describe('onRequest', () => {
  it('a finished answer: no error, and the time it took', async () => {
    const { proxy, logs } = await startProxy();
    const before = performance.now();
    const answer = await fetch(`${proxy.url}/slow`);
    expect(await answer.text()).toBe('late');
    await vi.waitFor(() => expect(logs).toHaveLength(1));
    const took = performance.now() - before;
    expect(logs[0]).toMatchObject({ method: 'GET', path: '/slow', status: 200, encrypted: false, sent: 'plain' });
    expect(logs[0]!.error).toBeUndefined();
    expect(logs[0]!.ms).toBeGreaterThanOrEqual(250);
    expect(logs[0]!.ms).toBeLessThanOrEqual(Math.ceil(took));
  });

  it('a client that leaves before the answer: "connection closed before the answer was complete", and the entry stays so', async () => {
    const { proxy, logs } = await startProxy();
    seen.length = 0;
    const connection = rawConnection(proxy.port);
    connection.send('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
    await vi.waitFor(() => expect(seen.at(-1)?.url).toBe('/v1/slow'));
    connection.socket.destroy();
    await vi.waitFor(() => expect(logs).toHaveLength(1));
    const entry = { ...logs[0]! };
    expect(entry).toMatchObject({ status: 0, sent: 'nothing', error: 'connection closed before the answer was complete' });
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(logs[0]).toEqual(entry);
  });

  it('a client that leaves mid-stream: the entry says the connection closed, not that the answer was cut', async () => {
    const { proxy, logs } = await startProxy();
    const connection = rawConnection(proxy.port);
    connection.send('GET /forever HTTP/1.1\r\nHost: x\r\n\r\n');
    await vi.waitFor(() => expect(connection.received()).toContain('ffff'));
    connection.socket.destroy();
    await vi.waitFor(() => expect(logs).toHaveLength(1));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(logs[0]).toMatchObject({ status: 200, sent: 'plain', error: 'connection closed before the answer was complete' });
  });
});

describe('options', () => {
  it('an https upstream is taken', async () => {
    const proxy = await startEncryptingProxy({ upstream: 'https://ark.example.invalid/api/v3', cacheDir: false });
    proxies.push(proxy);
    expect(proxy.port).toBeGreaterThan(0);
  });

  it('port 65535 is in range (it may be taken, but it is not an invalid option)', async () => {
    const result = await startEncryptingProxy({ upstream: upstreamUrl(), cacheDir: false, port: 65535 }).catch((error: unknown) => error);
    if (result instanceof Error) expect(result).not.toBeInstanceOf(InvalidOptionError);
    else await (result as EncryptingProxy).close();
  });

  it('maxRequestBytes: 1 is taken; 0 is refused with the code and what it must be', async () => {
    const { proxy } = await startProxy({ maxRequestBytes: 1 });
    expect(proxy.port).toBeGreaterThan(0);
    const error = await startEncryptingProxy({ upstream: upstreamUrl(), cacheDir: false, maxRequestBytes: 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).code).toBe('ERR_ARK_E2EE_INVALID_OPTION');
    expect((error as Error).message).toBe('maxRequestBytes must be a whole number of bytes, 1 or more, not 0');
  });

  it('a port in use rejects with the listen error', async () => {
    const taken = createNetServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    const error = await startEncryptingProxy({ upstream: upstreamUrl(), cacheDir: false, port }).catch((e: unknown) => e);
    expect((error as NodeJS.ErrnoException).code).toBe('EADDRINUSE');
    await new Promise((resolve) => taken.close(resolve));
  });

  it('an IPv6 host is written in brackets in the URL', async () => {
    const { proxy } = await startProxy({ host: '::1' });
    expect(proxy.url).toBe(`http://[::1]:${proxy.port}`);
    const answer = await fetch(`${proxy.url}/models`);
    expect(answer.status).toBe(200);
  });
});

