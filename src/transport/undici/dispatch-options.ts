/**
 * Reading undici's dispatch options for the interceptor (index.ts): headers in any of undici's
 * shapes, the URL, bodies of any kind, and the answer headers passed on after decryption.
 *
 * Only undici's types are imported: this module loads without undici itself.
 */
import type { Dispatcher } from 'undici';
import { UnsupportedRequestError } from '../../errors.js';

type UndiciHeaders = Dispatcher.DispatchOptions['headers'];
/** An answer's headers, as undici hands them to a handler. */
export type ResponseHeaders = Parameters<NonNullable<Dispatcher.DispatchHandler['onResponseStart']>>[2];

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
    // An empty array has no flat[0]: read either way, it gives no pairs.
    if (Array.isArray(flat[0])) {
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

/** An answer's headers as passed on after decryption. */
export function forwardedHeaders(headers: ResponseHeaders): ResponseHeaders {
  const out: ResponseHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    // The body is re-made: its length changes, and it is not compressed (identity was asked).
    if (lower !== 'content-length' && lower !== 'content-encoding' && lower !== 'transfer-encoding') out[name] = value;
  }
  return out;
}
