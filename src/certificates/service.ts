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

/** One POST; resolves with the status and body text, rejects on a network failure or abort. */
export type CertificateHttp = (request: CertificateHttpRequest) => Promise<{ status: number; text: string }>;

export interface CertificateServiceRequest {
  baseUrl: string;
  model: string;
  aicc: boolean;
  /** The chat request's own `Authorization` header value. */
  authorization: string | undefined;
  signal: AbortSignal;
}

/** A `CertificateHttp` over any fetch function. */
export function certificateHttpOverFetch(fetchFn: typeof fetch): CertificateHttp {
  return async ({ url, headers, body, signal }) => {
    const response = await fetchFn(url, { method: 'POST', headers, body, signal });
    return { status: response.status, text: await response.text() };
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

  let answer: { status: number; text: string };
  try {
    answer = await http({ url, headers, body, signal: request.signal });
  } catch (error) {
    if (request.signal.aborted) throw request.signal.reason ?? error;
    throw new CertificateUnavailableError(
      `could not reach the certificate service at ${url}: ${(error as Error).message}; check the base URL and the network`,
      { cause: error },
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
