/**
 * What the proxy forwards as it came and what it leaves out (src/transport/proxy.ts), as a
 * mutation run found it untested: the answer's cookies, connection-scoped headers and a coding
 * fetch has already undone; a request body of length 0, of a known length, and chunked.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEncryptingProxy, type EncryptingProxy } from '../../src/transport/proxy.js';

interface Seen { headers: IncomingMessage['headers']; body: string }
const seen: Seen[] = [];
let upstream: Server;
let proxy: EncryptingProxy;

beforeAll(async () => {
  upstream = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      seen.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
      if (req.url === '/cookies') {
        res.writeHead(200, [
          ['set-cookie', 'a=1'], ['set-cookie', 'b=2'], ['x-kept', 'yes'],
          ['connection', 'x-private'], ['x-private', 'secret'], ['keep-alive', 'timeout=77'],
        ].flat());
        res.end('ok');
      } else if (req.url?.startsWith('/gzip')) {
        const body = gzipSync('hello, decoded');
        res.writeHead(200, { 'content-encoding': req.url === '/gzip-spelled' ? ' GZIP ' : 'gzip', 'content-length': body.length });
        res.end(body);
      } else {
        res.end('plain');
      }
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  proxy = await startEncryptingProxy({ upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, cacheDir: false });
});
afterAll(async () => {
  await proxy.close();
  await new Promise((resolve) => upstream.close(resolve));
});

/** One request through the proxy, raw: the status, the headers as sent, the body bytes. */
function send(method: string, path: string, headers: Record<string, string> = {}, body?: string) {
  return new Promise<{ status: number; raw: string[]; body: string }>((resolve, reject) => {
    const req = httpRequest(`${proxy.url}${path}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, raw: res.rawHeaders, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
const named = (raw: string[], name: string): string[] =>
  raw.flatMap((value, i) => (i % 2 === 0 && value.toLowerCase() === name ? [raw[i + 1]!] : []));

describe('the answer', () => {
  it('keeps every cookie and other headers, but not those that belong to the upstream connection', async () => {
    const answer = await send('GET', '/cookies');
    expect(answer.status).toBe(200);
    expect(named(answer.raw, 'set-cookie')).toEqual(['a=1', 'b=2']);
    expect(named(answer.raw, 'x-kept')).toEqual(['yes']);
    expect(named(answer.raw, 'x-private')).toEqual([]);
    expect(named(answer.raw, 'keep-alive')).not.toContain('timeout=77');
  });

  it('a gzip answer that fetch has decoded goes on without its coding and old length, however the coding is written', async () => {
    for (const path of ['/gzip', '/gzip-spelled']) {
      const answer = await send('GET', path);
      expect(answer.body).toBe('hello, decoded');
      expect(named(answer.raw, 'content-encoding')).toEqual([]);
      expect(named(answer.raw, 'content-length').filter((length) => length !== String('hello, decoded'.length))).toEqual([]);
    }
  });
});

describe('the request body', () => {
  it('of length 0, of a known length, and chunked, each arrives as sent', async () => {
    seen.length = 0;
    await send('POST', '/empty', { 'content-length': '0' }, '');
    await send('POST', '/known', { 'content-type': 'text/plain', 'content-length': '3' }, 'abc');
    await send('POST', '/chunked', { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' }, 'chunked body');
    expect(seen.map((s) => s.body)).toEqual(['', 'abc', 'chunked body']);
    expect(seen[0]!.headers['content-length']).toBe('0');
    expect(seen[1]!.headers['content-length']).toBe('3');
  });
});
