/**
 * How the library's own errors reach a fetch-based client (`errors: 'response'`, the default of
 * createEncryptedFetch): as the HTTP answer that client already knows how to read, so that what a
 * user of openai, the Vercel AI SDK or LangChain sees is what they would see for the same problem
 * without encryption.
 *
 * - A request refused before anything was sent (content or request the protocol cannot encrypt, a
 *   certificate that fails its checks) is a 400 `invalid_request_error`: no client retries a 400,
 *   and none should: it can never succeed as it is.
 * - The certificate service's own HTTP error keeps its status (a wrong API key stays a 401, the
 *   client's authentication error); a 2xx without a certificate is a 502. So does an OpenAPI
 *   call's (access keys); access keys set up wrong are a 400.
 * - A JSON answer that arrived but does not decrypt is a 502: an error, never a success.
 * - Anything else (a network failure, a timeout, an abort) is thrown as it is: a client's
 *   connection error, which it retries, as it would without encryption.
 *
 * The body is OpenAI-style (`{"error":{"message","type","code","param"}}`), the message starts with
 * the library's code, and the header `x-ark-e2ee-error` names it, so that the cause is visible in
 * the client's own error message and a program can still branch on the code.
 */
import {
  ArkE2EEError,
  CertificateUnavailableError,
  DecryptionFailedError,
  InvalidCertificateError,
  InvalidKeyError,
  OpenApiError,
  UnsupportedContentError,
  UnsupportedRequestError,
} from '../errors.js';

/** Where the library's errors go: an HTTP answer the client reads (default), or thrown from fetch. */
export type ErrorDelivery = 'response' | 'throw';

/** Names the library's error code on a synthetic answer, e.g. `ERR_ARK_E2EE_UNSUPPORTED_CONTENT`. */
export const HEADER_ARK_E2EE_ERROR = 'x-ark-e2ee-error';

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  429: 'Too Many Requests',
  502: 'Bad Gateway',
};

/** The OpenAI error `type` a client expects for a status. */
function errorType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/** The status an error is answered with, or `undefined` for one that stays thrown. */
function statusOf(error: ArkE2EEError): number | undefined {
  if (
    error instanceof UnsupportedContentError ||
    error instanceof UnsupportedRequestError ||
    error instanceof InvalidKeyError ||
    error instanceof InvalidCertificateError
  ) {
    return 400;
  }
  if (error instanceof CertificateUnavailableError) {
    if (error.status === undefined) return undefined; // never answered: a connection error
    return error.status >= 400 && error.status <= 599 ? error.status : 502;
  }
  if (error instanceof OpenApiError) {
    // Access keys: an OpenAPI answer keeps its status as the certificate service's does; keys
    // set up wrong (no action) are a refusal; an OpenAPI that could not be reached stays thrown.
    if (error.status !== undefined) return error.status >= 400 && error.status <= 599 ? error.status : 502;
    return error.action === undefined ? 400 : undefined;
  }
  if (error instanceof DecryptionFailedError) return 502;
  return undefined;
}

function paramOf(error: ArkE2EEError): string | null {
  if (!(error instanceof UnsupportedContentError)) return null;
  const part = error.partIndex === undefined ? '' : `[${error.partIndex}]`;
  return `messages[${error.messageIndex}].content${part}`;
}

/**
 * The answer standing for `error`, or `undefined` when it must stay thrown (not one of the
 * library's errors, or a failure to reach the service).
 */
export function errorResponse(error: unknown): Response | undefined {
  if (!(error instanceof ArkE2EEError)) return undefined;
  const status = statusOf(error);
  if (status === undefined) return undefined;
  const body = {
    error: {
      message: `${error.code}: ${error.message}`,
      type: errorType(status),
      code: error.code,
      param: paramOf(error),
    },
  };
  const headers: Record<string, string> = {
    'content-type': 'application/json; charset=utf-8',
    [HEADER_ARK_E2EE_ERROR]: error.code,
  };
  // openai reads this header before the status: a refusal made here is the same on every try.
  // Other statuses are the service's own, retried or not as the client does for them.
  if (status === 400) headers['x-should-retry'] = 'false';
  return new Response(JSON.stringify(body), { status, statusText: STATUS_TEXT[status] ?? '', headers });
}
