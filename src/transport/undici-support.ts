/**
 * The edges of the undici interceptor (undici.ts): reading dispatch options (headers in any of
 * undici's shapes, bodies of any kind), a CertificateHttp that goes through a dispatch function,
 * and an adapter for handlers of undici's older (onConnect/onHeaders/onData) style.
 *
 * Only undici's types are imported: this module loads without undici itself.
 */
import type { Dispatcher } from 'undici';
import { UnsupportedRequestError } from '../errors.js';
import {
  DEFAULT_MAX_CERTIFICATE_BYTES,
  certificateAnswerTooLarge,
  isRedirect,
  type CertificateHttp,
} from '../certificates/service.js';

type UndiciHeaders = Dispatcher.DispatchOptions['headers'];
type Handler = Dispatcher.DispatchHandler;
type Controller = Dispatcher.DispatchController;

function headerText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) return value.map(String).join(', ');
  return String(value);
}

/** Every header of dispatch options as [name, value] pairs: object, flat array or pairs. */
export function headerPairs(headers: UndiciHeaders): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  const add = (name: unknown, value: unknown): void => {
    const text = headerText(value);
    if (text !== undefined) pairs.push([String(name), text]);
  };
  if (headers === undefined || headers === null) return pairs;
  if (Array.isArray(headers)) {
    const flat = headers as unknown[];
    if (flat.length > 0 && Array.isArray(flat[0])) {
      for (const pair of flat as unknown[][]) add(pair[0], pair[1]);
    } else {
      for (let i = 0; i + 1 < flat.length; i += 2) add(flat[i], flat[i + 1]);
    }
  } else if (typeof (headers as Partial<Iterable<unknown>>)[Symbol.iterator] === 'function') {
    for (const pair of headers as Iterable<unknown>) {
      if (Array.isArray(pair)) add(pair[0], pair[1]);
    }
  } else {
    for (const [name, value] of Object.entries(headers)) add(name, value);
  }
  return pairs;
}

/** One response header value, whatever its shape. */
export function responseHeader(headers: Record<string, unknown>, name: string): string | undefined {
  const lower = name.toLowerCase();
  const key = Object.keys(headers).find((candidate) => candidate.toLowerCase() === lower);
  return key === undefined ? undefined : headerText(headers[key]);
}

/** The full URL a dispatch goes to. */
export function dispatchUrl(opts: Dispatcher.DispatchOptions): string {
  if (opts.origin === undefined || opts.origin === null || opts.origin === '') {
    throw new UnsupportedRequestError(
      'a request with x-is-encrypted: true has no origin in its dispatch options, so its URL is ' +
        'unknown; nothing was sent. Use an Agent (or pass origin) with the encryption interceptor',
    );
  }
  const origin = new URL(String(opts.origin)).origin;
  const path = opts.path.startsWith('/') ? opts.path : `/${opts.path}`;
  return `${origin}${path}`;
}

function isAsyncIterable(value: object): value is AsyncIterable<unknown> {
  return typeof (value as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === 'function';
}

function isIterable(value: object): value is Iterable<unknown> {
  return typeof (value as Partial<Iterable<unknown>>)[Symbol.iterator] === 'function';
}

const encoder = new TextEncoder();

function chunkBytes(chunk: unknown): Uint8Array {
  if (typeof chunk === 'string') return encoder.encode(chunk);
  if (chunk instanceof Uint8Array) return chunk;
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  throw new UnsupportedRequestError(
    'the body of a request with x-is-encrypted: true yields chunks that are not bytes or text; nothing was sent',
  );
}

function unsupportedBody(kind: string): UnsupportedRequestError {
  return new UnsupportedRequestError(
    `a request with x-is-encrypted: true has a ${kind} body; the encryption protocol needs the ` +
      'JSON chat completion as a string, bytes or a stream of them. Nothing was sent',
  );
}

function concatenated(chunks: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const chunk of chunks) size += chunk.byteLength;
  const all = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.byteLength;
  }
  return all;
}

/**
 * The whole request body: a string, bytes, a Blob, a Readable or any (async) iterable of chunks.
 * Text stays text (chunks of text are joined as text, so a surrogate pair cut between two chunks
 * stays whole); anything with bytes comes back as bytes, which the encryptor decodes strictly.
 * FormData and anything else are refused. Stops early once `signal` aborts.
 */
export async function collectBody(body: unknown, signal: AbortSignal): Promise<string | Uint8Array> {
  if (body === undefined || body === null) return '';
  if (typeof body === 'string') return body;
  if (typeof body !== 'object') throw unsupportedBody(typeof body);
  // By tag, not instanceof: undici's own FormData and Blob are not the global classes.
  const tag = (body as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag];
  if (tag === 'FormData') throw unsupportedBody('FormData');
  if (body instanceof Uint8Array || ArrayBuffer.isView(body) || body instanceof ArrayBuffer) return chunkBytes(body);
  if ((tag === 'Blob' || tag === 'File') && typeof (body as Blob).arrayBuffer === 'function') {
    return new Uint8Array(await (body as Blob).arrayBuffer());
  }
  const chunks: unknown[] = [];
  if (isAsyncIterable(body)) {
    for await (const chunk of body) {
      if (signal.aborted) break;
      chunks.push(chunk);
    }
  } else if (isIterable(body)) {
    for (const chunk of body) chunks.push(chunk);
  } else {
    throw unsupportedBody((body as object).constructor?.name ?? 'object');
  }
  if (chunks.every((chunk) => typeof chunk === 'string')) return chunks.join('');
  return concatenated(chunks.map(chunkBytes));
}

/** Releases a request body that will not be sent (a stream is destroyed). */
export function discardBody(body: unknown): void {
  const stream = body as { destroy?: unknown; destroyed?: boolean } | null | undefined;
  if (stream && typeof stream.destroy === 'function' && stream.destroyed !== true) {
    (stream.destroy as () => void).call(stream);
  }
}

/**
 * The controller the caller's handler sees, from the start: during the certificate phase its
 * abort() stops the preparation; once the encrypted request is under way, it drives that one.
 */
export class ForwardingController implements Controller {
  private isAborted = false;
  private isPaused = false;
  private abortReason: Error | null = null;
  private inner: Controller | undefined;

  constructor(private readonly onAbort: (reason: Error) => void) {}

  get aborted(): boolean {
    return this.isAborted;
  }

  get paused(): boolean {
    return this.isPaused;
  }

  get reason(): Error | null {
    return this.abortReason;
  }

  abort(reason: Error): void {
    if (this.isAborted) return;
    this.isAborted = true;
    this.abortReason = reason ?? new Error('The request was aborted');
    if (this.inner) this.inner.abort(this.abortReason);
    else this.onAbort(this.abortReason);
  }

  pause(): void {
    this.isPaused = true;
    this.inner?.pause();
  }

  resume(): void {
    if (!this.isPaused) return;
    this.isPaused = false;
    this.inner?.resume();
  }

  /** The controller of the dispatched (encrypted) request. */
  attach(inner: Controller | null | undefined): void {
    if (!inner || inner === this.inner) return;
    this.inner = inner;
    if (this.isAborted && this.abortReason) inner.abort(this.abortReason);
    else if (this.isPaused) inner.pause();
  }
}


/**
 * A CertificateHttp that sends the certificate POST through `dispatch` (the rest of the chain).
 * Redirects are not followed: `maxRedirections: 0` tells a redirect interceptor further down to
 * pass the 3xx on (undici's own fetch does the same), and a 3xx ends the exchange at once. An
 * answer over `maxBytes` stops the read and aborts the connection.
 */
export function certificateHttpOverDispatch(dispatch: Dispatcher.Dispatch, options: { maxBytes?: number } = {}): CertificateHttp {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_CERTIFICATE_BYTES;
  return ({ url, headers, body, signal }) =>
    new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const target = new URL(url);
      const chunks: Uint8Array[] = [];
      let size = 0;
      let status = 0;
      let controller: Controller | undefined;
      let settled = false;
      const onAbort = (): void => controller?.abort(signal.reason as Error);
      const settle = (error: unknown, answer?: { status: number; text: string; location?: string }): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        if (answer === undefined) reject(error);
        else resolve(answer);
      };
      /** Ends the exchange early: the answer (or error) is settled, the connection given up. */
      const stop = (current: Controller, error: unknown, answer?: { status: number; text: string; location?: string }): void => {
        settle(error, answer);
        current.abort(error instanceof Error ? error : new Error('the certificate answer was not read to its end'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const handler: Handler = {
        onRequestStart(started) {
          controller = started;
          if (signal.aborted) started.abort(signal.reason as Error);
        },
        onResponseStart(current, statusCode, responseHeaders) {
          status = statusCode;
          if (statusCode < 200) return;
          if (isRedirect(statusCode)) {
            const location = responseHeader(responseHeaders, 'location');
            stop(current, undefined, location === undefined ? { status, text: '' } : { status, text: '', location });
            return;
          }
          const declared = Number(responseHeader(responseHeaders, 'content-length') ?? Number.NaN);
          if (declared > maxBytes) stop(current, certificateAnswerTooLarge(maxBytes, declared));
        },
        onResponseData(current, chunk) {
          if (status < 200 || settled) return;
          size += chunk.byteLength;
          if (size > maxBytes) {
            stop(current, certificateAnswerTooLarge(maxBytes));
            return;
          }
          chunks.push(new Uint8Array(chunk));
        },
        onResponseEnd() {
          const all = new Uint8Array(size);
          let at = 0;
          for (const chunk of chunks) {
            all.set(chunk, at);
            at += chunk.byteLength;
          }
          settle(undefined, { status, text: new TextDecoder().decode(all) });
        },
        onResponseError(_controller, error) {
          settle(error);
        },
      };
      try {
        dispatch(
          {
            origin: target.origin,
            path: `${target.pathname}${target.search}`,
            method: 'POST',
            headers: { ...headers, 'content-length': String(encoder.encode(body).byteLength) },
            body,
            // Not followed, whatever is composed below (see docs/security.md).
            maxRedirections: 0,
          } as Dispatcher.DispatchOptions,
          handler,
        );
      } catch (error) {
        settle(error);
      }
    });
}

function rawHeaders(headers: Record<string, unknown>): Buffer[] {
  const raw: Buffer[] = [];
  for (const [name, value] of Object.entries(headers)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item !== undefined && item !== null) raw.push(Buffer.from(name, 'latin1'), Buffer.from(String(item), 'latin1'));
    }
  }
  return raw;
}

/**
 * A handler with the new-style methods. In a compose chain undici already hands interceptors
 * such handlers; one of the old style (onConnect, onHeaders, onData, onComplete, onError) is
 * adapted here so that the interceptor also works when called directly.
 */
export function newStyleHandler(handler: Handler): Handler {
  if (typeof handler.onRequestStart === 'function' || typeof handler.onResponseStart === 'function') {
    return handler;
  }
  return {
    onRequestStart(controller) {
      handler.onConnect?.((reason) => controller.abort(reason ?? new Error('aborted')));
    },
    onResponseStart(controller, statusCode, headers, statusMessage) {
      handler.onResponseStarted?.();
      const raw = rawHeaders(headers as Record<string, unknown>);
      if (handler.onHeaders?.(statusCode, raw, () => controller.resume(), statusMessage ?? '') === false) {
        controller.pause();
      }
    },
    onResponseData(controller, chunk) {
      if (handler.onData?.(chunk) === false) controller.pause();
    },
    onResponseEnd(_controller, trailers) {
      handler.onComplete?.(rawHeaders(trailers as Record<string, unknown>).map((bytes) => bytes.toString('latin1')));
    },
    onResponseError(_controller, error) {
      if (typeof handler.onError !== 'function') throw error;
      handler.onError(error);
    },
  };
}
