/**
 * startEncryptingProxy: a local HTTP proxy with the OpenAI path layout, so that any
 * OpenAI-compatible client, in any language, gets Ark encryption by changing its base URL.
 * Node only (node:http).
 *
 * Path mapping: the path the client asks for is appended to the upstream URL's path, query
 * kept. With `upstream: 'https://ark.cn-beijing.volces.com/api/v3'`, a client whose base URL is
 * the proxy root (`http://127.0.0.1:8787`) sends `POST /chat/completions`, which goes up as
 * `POST /api/v3/chat/completions`. Give clients the proxy root, not the upstream's path: a path
 * that already starts with the upstream's path (`/api/v3/chat/completions`) is answered 404
 * with a message saying so, and not forwarded.
 *
 * Requests carrying `x-is-encrypted: true` (with `encryptAll`, also every POST …/chat/completions
 * and …/batch/chat/completions, bots excepted: the protocol does not cover them) are encrypted
 * on the way up and their answers decrypted on the way down, streams as they flow; everything
 * else passes through. The switch is read from the raw header lines, before the hop-by-hop
 * rules, by the same function as every transport (encryption-switch.ts). With `encryptAll`, a
 * request that is not encrypted and whose body carries chat messages (whatever its path or
 * method, bots included) is refused (chat-route.ts). Errors the proxy makes itself are OpenAI-style JSON:
 * `{"error":{"message","type","code"}}`, `type` being `ark_e2ee_error` or `proxy_error`:
 * - refused before anything was sent (content, request, certificate that cannot be used, a request
 *   target that is neither a path nor an http(s) URL: `invalid_request_target`): 400;
 * - the certificate could not be had: 502 (or the service's own 401/403, a wrong API key);
 * - a JSON answer that does not decrypt: 502; the upstream cannot be reached: 502;
 * - the body of a request to encrypt is larger than `maxRequestBytes`: 413, connection closed.
 * A stream that fails half-way is cut (the client's connection is destroyed): the client never
 * gets text that did not authenticate, and sees an incomplete stream, not a clean end.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import {
  ArkE2EEError,
  CertificateUnavailableError,
  DecryptionFailedError,
  InvalidCertificateError,
  InvalidKeyError,
  InvalidOptionError,
  UnsupportedContentError,
  UnsupportedRequestError,
} from '../errors.js';
import { HEADER_IS_ENCRYPTED } from '../protocol/constants.js';
import { createEncryptedFetch } from './create-encrypted-fetch.js';
import { refusePlainChat } from './chat-route.js';
import { encryptionSwitch } from './encryption-switch.js';
import { decodedByFetch } from './fetch-decoding.js';
import { limitedBody, RequestTooLargeError } from './proxy-body.js';
import { chatBaseUrl, type ArkEncryptionOptions } from './encryptor.js';

export interface EncryptingProxyOptions extends ArkEncryptionOptions {
  /** Where requests go, e.g. `https://ark.cn-beijing.volces.com/api/v3` (see path mapping). */
  upstream: string | URL;
  /** Address to bind; default `127.0.0.1` (loopback only). */
  host?: string;
  /** Port; default 0 (a free one: read it from the result). */
  port?: number;
  /** Encrypt every POST chat completion, with or without `x-is-encrypted: true`. */
  encryptAll?: boolean;
  /** The fetch used upstream (chat and certificate requests); default `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Called once per request when its answer is done (or cut). */
  onRequest?: (entry: ProxyLogEntry) => void;
  /**
   * The largest request body, in bytes, of a request the proxy encrypts (it must hold such a
   * body whole to encrypt it). A larger one is answered 413 and not read further. Default 64 MiB.
   */
  maxRequestBytes?: number;
}

export interface ProxyLogEntry {
  method: string;
  /** Path and query as the client sent them. */
  path: string;
  /** The status sent to the client; 0 when the connection closed before any. */
  status: number;
  /** Whether encryption was asked for (the header, or encryptAll on a chat completion). */
  encrypted: boolean;
  /**
   * What went upstream: the request `encrypted`, in `plain` text (encryption not asked for), or
   * `nothing` (refused or answered by the proxy itself, or the upstream could not be reached).
   */
  sent: 'encrypted' | 'plain' | 'nothing';
  ms: number;
  /** Why the proxy answered with an error of its own, or cut the answer. */
  error?: string;
}

export interface EncryptingProxy {
  /** `http://HOST:PORT`: the base URL to give clients. */
  readonly url: string;
  readonly port: number;
  /** Stops listening and destroys open connections (their upstream requests are aborted). */
  close(): Promise<void>;
}

/** Request headers that belong to one connection, not to the request (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host',
  'content-length', 'expect', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate',
]);
/** Request bodies of a known length up to this size are read whole (and sent with a length). */
const BUFFER_LIMIT = 32 * 1024 * 1024;
/** Default `maxRequestBytes`. */
export const DEFAULT_MAX_REQUEST_BYTES = 64 * 1024 * 1024;

class ProxyAnswer extends Error {
  constructor(readonly status: number, message: string, readonly type: string, readonly code: string) {
    super(message);
  }
}

function tooLarge(error: RequestTooLargeError): ProxyAnswer {
  return new ProxyAnswer(413, error.message, 'proxy_error', 'request_too_large');
}

function upstreamFailure(error: unknown): ProxyAnswer {
  if (error instanceof ArkE2EEError) {
    let status = 502;
    if (error instanceof UnsupportedContentError || error instanceof UnsupportedRequestError
      || error instanceof InvalidCertificateError || error instanceof InvalidKeyError) status = 400;
    if (error instanceof CertificateUnavailableError && (error.status === 401 || error.status === 403)) {
      status = error.status;
    }
    return new ProxyAnswer(status, error.message, 'ark_e2ee_error', error.code);
  }
  const cause = (error as { cause?: { message?: string } }).cause?.message;
  const message = `the upstream could not be reached: ${(error as Error).message}${cause ? ` (${cause})` : ''}`;
  return new ProxyAnswer(502, message, 'proxy_error', 'upstream_unreachable');
}

function sendProxyAnswer(response: ServerResponse, answer: ProxyAnswer): void {
  const text = JSON.stringify({ error: { message: answer.message, type: answer.type, code: answer.code } });
  const tooLong = answer.status === 413;
  response.writeHead(answer.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    // The rest of a body that was too long is not read: this connection cannot carry another request.
    // With this header node:http closes the connection itself once the answer is sent.
    ...(tooLong ? { connection: 'close' } : {}),
  });
  response.end(text);
}

function connectionHeaders(value: string | string[] | undefined): Set<string> {
  const list = Array.isArray(value) ? value.join(',') : (value ?? '');
  return new Set(list.split(',').map((name) => name.trim().toLowerCase()).filter(Boolean));
}

function upstreamHeaders(request: IncomingMessage): Headers {
  const named = connectionHeaders(request.headers.connection);
  const headers = new Headers();
  const raw = request.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (!HOP_BY_HOP.has(name) && !named.has(name)) headers.append(name, raw[i + 1]!);
  }
  // fetch undoes compression on its own; ask for none, so a stream flows as it is made.
  headers.set('accept-encoding', 'identity');
  return headers;
}

/**
 * The request body: bytes when its length is known and at most BUFFER_LIMIT, or when `whole`
 * (up to BUFFER_LIMIT, else refused); a stream otherwise.
 */
async function requestBody(request: IncomingMessage, method: string, whole: boolean): Promise<Uint8Array | ReadableStream<Uint8Array> | '' | undefined> {
  if (method === 'GET' || method === 'HEAD') return undefined;
  const chunked = request.headers['transfer-encoding'] !== undefined;
  const length = Number(request.headers['content-length'] ?? Number.NaN);
  if (!chunked && !(length > 0)) return length === 0 ? '' : undefined;
  if ((!chunked && length <= BUFFER_LIMIT) || whole) {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of request) {
      size += (chunk as Buffer).byteLength;
      if (size > BUFFER_LIMIT) {
        throw new UnsupportedRequestError(
          `with encryptAll the proxy reads every request body it does not encrypt, to make sure it carries ` +
            `no chat messages, and this one is over ${BUFFER_LIMIT} bytes; nothing was sent`,
        );
      }
      chunks.push(chunk as Buffer);
    }
    return new Uint8Array(Buffer.concat(chunks));
  }
  return Readable.toWeb(request) as unknown as ReadableStream<Uint8Array>;
}

/**
 * The path and query a request target asks for: as the client wrote them for the usual origin
 * form (`/chat/completions`; `//chat/completions` is a path, not a host), from the URL for the
 * absolute form a client sends to a proxy (`http://host/chat/completions`).
 */
function askedPath(requestTarget: string): { pathname: string; search: string } | undefined {
  if (requestTarget.startsWith('/')) {
    const query = requestTarget.indexOf('?');
    return query < 0
      ? { pathname: requestTarget, search: '' }
      : { pathname: requestTarget.slice(0, query), search: requestTarget.slice(query) };
  }
  // Anything else (`*`, `host:443`, `chat/completions`, `ftp://…`) names no path to forward.
  const url = URL.canParse(requestTarget) ? new URL(requestTarget) : undefined;
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) return undefined;
  return { pathname: url.pathname, search: url.search };
}

function copyAnswerHeaders(method: string, answer: Response, to: ServerResponse): void {
  const from = answer.headers;
  const named = connectionHeaders(from.get('connection') ?? undefined);
  const decoded = decodedByFetch(method, answer.status, from.get('content-encoding'));
  for (const [name, value] of from) {
    // HOP_BY_HOP names `host` too: an answer's Host is not passed on either.
    if (name === 'set-cookie' || (HOP_BY_HOP.has(name) && name !== 'content-length')) continue;
    if (named.has(name)) continue;
    if (decoded && (name === 'content-encoding' || name === 'content-length')) continue;
    to.setHeader(name, value);
  }
  const cookies = from.getSetCookie();
  if (cookies.length > 0) to.setHeader('set-cookie', cookies);
}

/** Resolves once `response` takes writes again; rejects when its connection closed first. */
function drained(response: ServerResponse): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onDrain = (): void => {
      response.off('close', onClose);
      resolve();
    };
    const onClose = (): void => {
      response.off('drain', onDrain);
      reject(new Error('the client closed the connection'));
    };
    response.once('drain', onDrain);
    response.once('close', onClose);
  });
}

/**
 * Copies the answer body to the client, chunk by chunk as it comes, and ends the answer at the
 * body's end. A read loop rather than `pipeline(Readable.fromWeb(body), response)`: the Node
 * stream in between costs an async iterator, a buffer and several promise hops per chunk
 * (~5% of the pass-through's CPU in bench/proxy.mjs; docs/performance.md, issue 14). Backpressure: a write the socket
 * cannot take yet stops reading until it drains. A body that fails, or a client that goes away,
 * rejects (the caller cuts the connection) and lets the body go.
 */
async function relay(body: ReadableStream<Uint8Array>, response: ServerResponse): Promise<void> {
  const reader = body.getReader();
  // A socket error destroys the response, and 'close' follows: the loop sees `destroyed` (or
  // the wait for 'drain' rejects). Listened to so that it is not an uncaught 'error' event.
  const ignore = (): void => {};
  response.on('error', ignore);
  // Settles once the last chunk written has gone to the socket, or the connection closed.
  let lastWritten: Promise<void> = Promise.resolve();
  let onClose = (): void => {};
  const closed = new Promise<void>((resolve) => {
    onClose = resolve;
    response.once('close', resolve);
  });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (response.destroyed) throw new Error('the client closed the connection');
      let more = true;
      lastWritten = new Promise<void>((resolve) => {
        more = response.write(value, () => resolve());
      });
      if (!more) await drained(response);
    }
  } catch (error) {
    reader.cancel(error).catch(() => {});
    // The chunks before the failure (the events that did authenticate) reach the client before
    // the caller cuts the connection: destroying it at once would drop what is still corked.
    await Promise.race([lastWritten, closed]);
    response.off('error', ignore);
    response.off('close', onClose);
    throw error;
  }
  response.off('error', ignore);
  response.off('close', onClose);
  if (response.destroyed) throw new Error('the client closed the connection');
  response.end();
  // Rejects when the connection closed before the last byte went out.
  await finished(response);
}

function isChatCompletion(url: URL, method: string): boolean {
  return method === 'POST' && chatBaseUrl(url) !== undefined;
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function upstreamOf(option: string | URL): URL {
  const text = String(option);
  const upstream = URL.canParse(text) ? new URL(text) : undefined;
  if (upstream === undefined || (upstream.protocol !== 'http:' && upstream.protocol !== 'https:')) {
    throw new InvalidOptionError(
      `the upstream must be an absolute http: or https: URL such as https://ark.cn-beijing.volces.com/api/v3, not "${text}"`,
    );
  }
  return upstream;
}

/** Starts the proxy; resolves once it listens. */
export async function startEncryptingProxy(options: EncryptingProxyOptions): Promise<EncryptingProxy> {
  const upstream = upstreamOf(options.upstream);
  const listenPort = options.port ?? 0;
  if (!Number.isInteger(listenPort) || listenPort < 0 || listenPort > 65535) {
    throw new InvalidOptionError(`port must be a whole number from 0 (a free port) to 65535, not ${String(options.port)}`);
  }
  const upstreamPath = upstream.pathname.replace(/\/+$/, '');
  // Thrown, not answered: the proxy makes its own answers (upstreamFailure) and logs them.
  const encryptedFetch = createEncryptedFetch({ ...options, errors: 'throw' });
  const host = options.host ?? '127.0.0.1';
  const maxRequestBytes = options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  if (!Number.isSafeInteger(maxRequestBytes) || maxRequestBytes < 1) {
    throw new InvalidOptionError(`maxRequestBytes must be a whole number of bytes, 1 or more, not ${String(options.maxRequestBytes)}`);
  }

  // Requests that sent `Expect: 100-continue`: the 100 goes out only once the body is wanted, so
  // that a body over the limit is refused before the client sends any of it.
  const continueWithheld = new WeakSet<IncomingMessage>();
  const handle = async (request: IncomingMessage, response: ServerResponse, log: ProxyLogEntry): Promise<void> => {
    const wanted = (): void => {
      if (continueWithheld.delete(request)) response.writeContinue();
    };
    const method = log.method;
    const target = new URL(upstream.href);
    const asked = askedPath(log.path);
    if (asked === undefined) {
      const failure = new ProxyAnswer(400,
        `the request target ${JSON.stringify(log.path)} is neither a path (/chat/completions) nor an http(s) URL; ` +
          'nothing was sent. Give the client the proxy root as its base URL',
        'invalid_request_error', 'invalid_request_target');
      log.error = `${failure.code}: ${failure.message}`;
      sendProxyAnswer(response, failure);
      return;
    }
    if (upstreamPath !== '' && (asked.pathname === upstreamPath || asked.pathname.startsWith(`${upstreamPath}/`))) {
      // The client was given the proxy URL with the upstream's base path on it: that path would
      // be doubled (…/api/v3/api/v3/chat/completions), and the certificate request would fail
      // with a confusing 404. Say what is wrong instead of forwarding it.
      const root = `http://${request.headers.host ?? 'PROXY'}`;
      const failure = new ProxyAnswer(404,
        `the path ${asked.pathname} already starts with the upstream's base path ${upstreamPath}, which the proxy ` +
          `adds itself (it would go up as ${upstreamPath}${asked.pathname}); nothing was sent. Give the client the ` +
          `proxy root as its base URL: ${root}, not ${root}${upstreamPath}`,
        'invalid_request_error', 'doubled_base_path');
      log.error = `${failure.code}: ${failure.message}`;
      sendProxyAnswer(response, failure);
      return;
    }
    target.pathname = `${upstreamPath}${asked.pathname}`;
    target.search = asked.search;
    const headers = upstreamHeaders(request);

    const abort = new AbortController();
    response.on('close', () => {
      if (!response.writableFinished) abort.abort(new Error('the client closed the connection'));
    });
    let answer: Response;
    try {
      // Read from the raw headers, before the hop-by-hop rules: `Connection: x-is-encrypted`
      // must not take the switch away and leave the body to go up in plain text.
      const encrypt = encryptionSwitch(request.rawHeaders) || (options.encryptAll === true && isChatCompletion(target, method));
      log.encrypted = encrypt;
      if (encrypt) headers.set(HEADER_IS_ENCRYPTED, 'true');
      const guard = options.encryptAll === true && !encrypt;
      const body = encrypt && method !== 'GET' && method !== 'HEAD'
        ? await limitedBody(request, maxRequestBytes, wanted)
        : (wanted(), await requestBody(request, method, guard));
      // encryptAll: whatever its path looks like, a body with chat messages is not sent up plain.
      if (guard && body instanceof Uint8Array) refusePlainChat(method, target.pathname, body);
      // The client's disconnect reaches the upstream through this signal: the encrypted fetch hands
      // its inner fetch this very signal (not a Request's copy, which a garbage collection would
      // detach), and the certificate fetch, shared by the requests for one model, is aborted once
      // no request waits for it (test/transport/proxy-abort.test.ts).
      const init = { method, headers, body, signal: abort.signal, redirect: 'manual', duplex: 'half' } as RequestInit;
      answer = await encryptedFetch(target, init);
      log.sent = log.encrypted ? 'encrypted' : 'plain';
    } catch (error) {
      // Only an answer that did not decrypt fails after the request went up.
      if (error instanceof DecryptionFailedError) log.sent = 'encrypted';
      if (abort.signal.aborted) return;
      const failure = error instanceof RequestTooLargeError ? tooLarge(error) : upstreamFailure(error);
      log.error = `${failure.code}: ${failure.message}`;
      sendProxyAnswer(response, failure);
      return;
    }
    response.statusCode = answer.status;
    if (answer.statusText) response.statusMessage = answer.statusText;
    copyAnswerHeaders(method, answer, response);
    if (answer.body === null) {
      response.end();
      return;
    }
    response.flushHeaders();
    try {
      await relay(answer.body, response);
    } catch (error) {
      // Cut, never ended cleanly: the client must not take a part for the whole.
      if (!abort.signal.aborted) log.error = `answer cut: ${(error as Error).message}`;
      response.destroy();
    }
  };

  const server = createServer((request, response) => {
    const started = performance.now();
    const log: ProxyLogEntry = {
      method: (request.method ?? 'GET').toUpperCase(), path: request.url ?? '/', status: 0, encrypted: false, sent: 'nothing', ms: 0,
    };
    response.on('close', () => {
      log.status = response.headersSent ? response.statusCode : 0;
      log.ms = Math.round(performance.now() - started);
      if (!response.writableFinished && log.error === undefined) log.error = 'connection closed before the answer was complete';
      options.onRequest?.(log);
    });
    handle(request, response, log).catch((error: unknown) => {
      log.error = `proxy failure: ${(error as Error).message}`;
      if (response.headersSent) response.destroy();
      else sendProxyAnswer(response, new ProxyAnswer(500, log.error, 'proxy_error', 'proxy_failure'));
    });
  });

  server.on('checkContinue', (request: IncomingMessage, response: ServerResponse) => {
    continueWithheld.add(request);
    server.emit('request', request, response);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${hostForUrl(host)}:${port}`,
    port,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
