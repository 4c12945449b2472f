/**
 * createEncryptedFetch: a function with fetch's signature that encrypts the chat completions
 * that carry `x-is-encrypted: true` and decrypts their answers; every other request passes
 * through untouched. Give it to any fetch-based client (`openai`, Vercel AI SDK, LangChain…).
 */
import { certificateHttpOverFetch } from '../certificates/service.js';
import { HEADER_IS_ENCRYPTED } from '../protocol/constants.js';
import { ArkEncryptor, asksForEncryption, isEventStream, type ArkEncryptionOptions } from './encryptor.js';

export interface EncryptedFetchOptions extends ArkEncryptionOptions {
  /** The fetch to wrap; default `globalThis.fetch`. */
  fetch?: typeof fetch;
}

type FetchInput = Parameters<typeof fetch>[0];
type FetchInit = NonNullable<Parameters<typeof fetch>[1]>;

/** The `x-is-encrypted` header of a fetch call, read without consuming or copying anything. */
function encryptionHeader(input: FetchInput, init: FetchInit | undefined): string | null | undefined {
  const headers = init?.headers ?? (input instanceof Request ? input.headers : undefined);
  if (headers === undefined) return undefined;
  if (headers instanceof Headers) return headers.get(HEADER_IS_ENCRYPTED);
  const pairs = Array.isArray(headers) ? headers : Object.entries(headers);
  const found = pairs.find(([name]) => name.toLowerCase() === HEADER_IS_ENCRYPTED);
  return found?.[1];
}

function withoutEncodingHeaders(headers: Headers): Headers {
  const out = new Headers(headers);
  // The body is re-made below: its length changes and it is no longer compressed.
  out.delete('content-length');
  out.delete('content-encoding');
  return out;
}

function rebuilt(response: Response, body: BodyInit | null): Response {
  const out = new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: withoutEncodingHeaders(response.headers),
  });
  Object.defineProperty(out, 'url', { value: response.url });
  return out;
}

export function createEncryptedFetch(options: EncryptedFetchOptions = {}): typeof fetch {
  const inner: typeof fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const encryptor = new ArkEncryptor(options, certificateHttpOverFetch(inner));

  async function encryptedFetch(input: FetchInput, init?: FetchInit): Promise<Response> {
    if (!asksForEncryption(encryptionHeader(input, init))) return inner(input, init);

    const request = new Request(input, init);
    // The caller's own signal, not the Request's copy: a copy follows the original only while
    // the Request object lives, and this one is dropped long before a stream ends.
    const signal = init?.signal ?? (input instanceof Request ? input.signal : undefined);
    const { body, headers, session } = await encryptor.encryptRequest({
      method: request.method,
      url: request.url,
      headers: request.headers,
      body: await request.text(),
      signal,
    });
    const response = await inner(request.url, {
      ...init,
      method: request.method,
      headers,
      body,
      signal,
    });
    if (!response.ok || response.body === null) return response;
    if (isEventStream(response.headers.get('content-type'))) {
      return rebuilt(response, encryptor.decryptStream(response.body, session));
    }
    return rebuilt(response, encryptor.decryptJsonText(await response.text(), session));
  }
  return encryptedFetch as typeof fetch;
}
