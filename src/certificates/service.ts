/**
 * The certificate service: `POST {base}/e2e/get/certificate` (protocol §1). The HTTP call itself
 * is handed in (`CertificateHttp`), so fetch, undici and the proxy all reach it their own way.
 */
import { CertificateUnavailableError } from '../errors.js';
import { isJsonObject } from '../protocol/json.js';
import { AICC_VERSION, CERTIFICATE_PATH, CERTIFICATE_SESSION_TOKEN, HEADER_SESSION_TOKEN } from '../protocol/constants.js';

export interface CertificateHttpRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  signal: AbortSignal;
}

/**
 * One POST, redirects not followed: resolves with the status and body text (a 3xx with its
 * `location` and no text; status 0 for a browser's opaque redirect), rejects on a network
 * failure, an abort, or an answer over the size limit (`CertificateUnavailableError`).
 */
export type CertificateHttp = (request: CertificateHttpRequest) => Promise<CertificateHttpAnswer>;

export interface CertificateHttpAnswer {
  status: number;
  text: string;
  location?: string;
}

/** A certificate answer over this many bytes is refused by default: a PEM is a few kilobytes. */
export const DEFAULT_MAX_CERTIFICATE_BYTES = 1024 * 1024;

export interface CertificateServiceRequest {
  baseUrl: string;
  model: string;
  aicc: boolean;
  /** The chat request's own `Authorization` header value. */
  authorization: string | undefined;
  signal: AbortSignal;
}

/** The typed error for an answer over `maxBytes`; `declared`: its content-length, when that said so. */
export function certificateAnswerTooLarge(maxBytes: number, declared?: number): CertificateUnavailableError {
  return new CertificateUnavailableError(
    `the certificate service's answer${declared === undefined ? '' : ` (${declared} bytes)`} is larger than ` +
      `${maxBytes} bytes (maxCertificateBytes), so it was not read to its end; a certificate is a few ` +
      'kilobytes: check the base URL',
  );
}

/** Whether a status is a redirect (3xx), or a browser's opaque redirect (0). */
export function isRedirect(status: number): boolean {
  return status === 0 || (status >= 300 && status < 400);
}

/** The body of `response` as text, stopping (and cancelling the body) past `maxBytes`. */
async function limitedText(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw certificateAnswerTooLarge(maxBytes, declared);
  }
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let size = 0;
  let text = '';
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    size += read.value.byteLength;
    if (size > maxBytes) {
      // Cancelling the body closes the connection under it: nothing more is read.
      await reader.cancel().catch(() => undefined);
      throw certificateAnswerTooLarge(maxBytes);
    }
    text += decoder.decode(read.value, { stream: true });
  }
  return text + decoder.decode();
}

/**
 * A `CertificateHttp` over any fetch function. Redirects are not followed (`redirect: 'manual'`,
 * see docs/security.md): a certificate from wherever a 3xx points would be used for this origin.
 */
export function certificateHttpOverFetch(fetchFn: typeof fetch, options: { maxBytes?: number } = {}): CertificateHttp {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_CERTIFICATE_BYTES;
  return async ({ url, headers, body, signal }) => {
    const response = await fetchFn(url, { method: 'POST', headers, body, signal, redirect: 'manual' });
    // `redirected`: a fetch that followed anyway (a wrapper that ignores `redirect`) is caught too.
    if (response.redirected || response.type === 'opaqueredirect' || isRedirect(response.status)) {
      await response.body?.cancel().catch(() => undefined);
      const location = response.redirected ? response.url : (response.headers.get('location') ?? undefined);
      const status = response.redirected ? 0 : response.status;
      return location ? { status, text: '', location } : { status, text: '' };
    }
    return { status: response.status, text: await limitedText(response, maxBytes) };
  };
}

function serviceMessage(text: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    if (isJsonObject(parsed) && isJsonObject(parsed.error)) {
      const { message, code } = parsed.error;
      if (typeof message === 'string') return typeof code === 'string' ? `${code}: ${message}` : message;
      return JSON.stringify(parsed.error);
    }
  } catch {
    // not JSON: the caller reports the status and the start of the text
  }
  return undefined;
}

/** The PEM the service returns for `model`; `CertificateUnavailableError` otherwise. */
export async function fetchCertificatePem(http: CertificateHttp, request: CertificateServiceRequest): Promise<string> {
  const url = `${request.baseUrl.replace(/\/+$/, '')}${CERTIFICATE_PATH}`;
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    [HEADER_SESSION_TOKEN]: CERTIFICATE_SESSION_TOKEN,
  };
  if (request.authorization !== undefined) headers.Authorization = request.authorization;
  const body = JSON.stringify(request.aicc ? { model: request.model, type: AICC_VERSION } : { model: request.model });

  let answer: CertificateHttpAnswer;
  try {
    answer = await http({ url, headers, body, signal: request.signal });
  } catch (error) {
    if (request.signal.aborted) throw request.signal.reason ?? error;
    if (error instanceof CertificateUnavailableError) throw error;
    throw new CertificateUnavailableError(
      `could not reach the certificate service at ${url}: ${(error as Error).message}; check the base URL and the network`,
      { cause: error },
    );
  }
  if (isRedirect(answer.status)) {
    // A redirect could send the certificate request (and its API key) anywhere, and the
    // certificate found there would decide who reads this origin's requests: never followed.
    const where = answer.location === undefined ? '' : ` to ${answer.location}`;
    throw new CertificateUnavailableError(
      `the certificate service answered ${answer.status === 0 ? 'with' : `HTTP ${answer.status},`} a redirect${where}, ` +
        'which is not followed for the certificate (it would decide who can read your requests); ' +
        'nothing was sent. Give the base URL the service answers at directly',
      answer.status === 0 ? {} : { status: answer.status },
    );
  }
  const message = serviceMessage(answer.text);
  if (answer.status < 200 || answer.status >= 300) {
    throw new CertificateUnavailableError(
      `the certificate service answered HTTP ${answer.status} for model "${request.model}"` +
        `${message ? `: ${message}` : ''}; check the API key and that the model has encryption enabled`,
      { status: answer.status, serviceMessage: message },
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.text);
  } catch {
    throw new CertificateUnavailableError(
      `the certificate service answered HTTP ${answer.status} with a body that is not JSON`,
      { status: answer.status },
    );
  }
  if (message !== undefined || !isJsonObject(parsed) || typeof parsed.Certificate !== 'string') {
    throw new CertificateUnavailableError(
      `the certificate service gave no certificate for model "${request.model}"${message ? `: ${message}` : ''}`,
      { status: answer.status, serviceMessage: message },
    );
  }
  return parsed.Certificate;
}
