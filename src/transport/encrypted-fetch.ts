/**
 * The work of createEncryptedFetch (create-encrypted-fetch.ts): a function with
 * fetch's signature that encrypts the chat completions that carry `x-is-encrypted: true` and
 * decrypts their answers; every other request passes through untouched.
 */
import { certificateHttpOverFetch } from '../certificates/service.js';
import type { NobleLoader } from '../crypto/session-crypto.js';
import { requestBodyText } from '../protocol/request-body.js';
import { encryptionSwitch } from './encryption-switch.js';
import { boundedText } from './bounded-body.js';
import { ArkEncryptor, isEventStream, maxCertificateBytesOf, type ArkEncryptionOptions } from './encryptor.js';
import { errorResponse, type ErrorDelivery } from './error-response.js';
import { withNetworkDetail } from './network-detail.js';

export interface EncryptedFetchOptions extends ArkEncryptionOptions {
  /** The fetch to wrap; default `globalThis.fetch`. */
  fetch?: typeof fetch;
  /**
   * How the library's own errors reach the caller. `'response'` (default): a refusal before
   * sending, a certificate-service HTTP error and an answer that does not decrypt come back as an
   * OpenAI-style error answer (400, the service's own status, 502) with the header
   * `x-ark-e2ee-error: <code>`, which clients turn into their usual errors (error-response.ts);
   * network failures are still thrown. `'throw'`: every error is thrown from fetch as the typed
   * ArkE2EEError. Errors inside a streamed answer are always raised by the stream.
   */
  errors?: ErrorDelivery;
}

type FetchInput = Parameters<typeof fetch>[0];
type FetchInit = NonNullable<Parameters<typeof fetch>[1]>;

/**
 * The headers fetch will send for a call, read without consuming or copying anything: the init's
 * when it has them, else the Request's. A Request-like object from another fetch implementation
 * (undici's own Request) counts as a Request: its headers are read too.
 */
function headersOf(input: FetchInput, init: FetchInit | undefined): unknown {
  if (init?.headers !== undefined) return init.headers;
  if (typeof input === 'object' && input !== null && !(input instanceof URL)) return (input as { headers?: unknown }).headers;
  return undefined;
}

interface RequestParts {
  method: string;
  url: string;
  headers: Headers;
  body: string | Uint8Array;
}

/**
 * The parts of a call that gives them plainly (an absolute URL string or URL, a string or
 * `Uint8Array` body or none), without building a `Request` and reading its body back: the way
 * `openai` and most clients call fetch, and the proxy (bytes). `undefined` for any other form,
 * which goes through `Request`.
 */
function plainParts(input: FetchInput, init: FetchInit | undefined): RequestParts | undefined {
  if (input instanceof Request) return undefined;
  const body = init?.body;
  if (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array)) return undefined;
  let url: string;
  try {
    url = new URL(input).href;
  } catch {
    return undefined; // relative: a Request resolves it against the page, where there is one
  }
  return {
    method: init?.method ?? 'GET',
    url,
    headers: new Headers(init?.headers),
    // Bytes decoded now, as the caller passed them (a Request would copy them now), strictly:
    // bytes that are not UTF-8 are refused, as the encryptor refuses them.
    // Stryker disable next-line StringLiteral: no body and any body that is not JSON get the same refusal (parseChatRequestBody)
    body: body instanceof Uint8Array ? requestBodyText(body) : (body ?? ''),
  };
}

async function requestParts(input: FetchInput, init: FetchInit | undefined): Promise<RequestParts> {
  const plain = plainParts(input, init);
  if (plain !== undefined) return plain;
  const request = new Request(input, init);
  // Bytes, not text(): text() would repair bytes that are not UTF-8, and the encryptor refuses them.
  const body = new Uint8Array(await request.arrayBuffer());
  return { method: request.method, url: request.url, headers: request.headers, body };
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

/**
 * createEncryptedFetch, with `loadNoble` for the sessions that need noble
 * (transport/create-encrypted-fetch.ts passes the on-demand loader; tests pass their own).
 */
export function encryptedFetchWith(loadNoble: NobleLoader, options: EncryptedFetchOptions = {}): typeof fetch {
  const inner: typeof fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const http = withNetworkDetail(certificateHttpOverFetch(inner, { maxBytes: maxCertificateBytesOf(options) }));
  const encryptor = new ArkEncryptor(options, http, loadNoble);
  const answerErrors = (options.errors ?? 'response') === 'response';

  async function encryptedFetch(input: FetchInput, init?: FetchInit): Promise<Response> {
    let encrypt: boolean;
    try {
      // Unreadable or contradictory switches throw here: nothing is sent.
      encrypt = encryptionSwitch(headersOf(input, init));
    } catch (error) {
      return answered(error);
    }
    if (!encrypt) return inner(input, init);
    // With errors: 'throw', answered() rethrows what it is given.
    return encryptedExchange(input, init).catch(answered);
  }

  /** The library's error as an answer (errors: 'response'), or thrown as it is. */
  function answered(error: unknown): Response {
    const answer = answerErrors ? errorResponse(error) : undefined;
    if (answer === undefined) throw error;
    return answer;
  }

  async function encryptedExchange(input: FetchInput, init?: FetchInit): Promise<Response> {
    const request = await requestParts(input, init);
    // The caller's own signal, not a Request's copy: a copy follows the original only while
    // the Request object lives, and this one is dropped long before a stream ends.
    const signal = init?.signal ?? (input instanceof Request ? input.signal : undefined);
    const { body, headers, session } = await encryptor.encryptRequest({ ...request, signal });
    const asked = init?.redirect ?? (input instanceof Request ? input.redirect : undefined);
    const response = await inner(request.url, {
      ...init,
      // Only POST gets this far (encryptRequest refuses anything else), in any letter case.
      method: 'POST',
      headers,
      body,
      signal,
      // Never followed: fetch would send the same session (token and ciphertext) again, to
      // wherever the Location says. The 3xx goes back to the caller; 'error' still throws.
      redirect: asked === 'error' ? 'error' : 'manual',
    });
    if (!response.ok || response.body === null) return response;
    if (isEventStream(response.headers.get('content-type'))) {
      return rebuilt(response, encryptor.decryptStream(response.body, session, signal));
    }
    return rebuilt(response, encryptor.decryptJsonText(await boundedText(response, encryptor.maxAnswerBytes), session));
  }
  return encryptedFetch as typeof fetch;
}
