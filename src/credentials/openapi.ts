/**
 * One signed call to Volcengine's OpenAPI for the `ark` service, as the official SDKs make it:
 * `POST {openApiUrl}/?Action=<action>&Version=2024-01-01`, a JSON body, signed with the access
 * key pair (sign.ts). The answer is `{ResponseMetadata: {RequestId, Error?}, Result}`; an `Error`
 * (or a non-2xx status) is an `OpenApiError` with the OpenAPI's own code and request id.
 *
 * The HTTP call is a `CertificateHttp`, so fetch, undici and the proxy each reach the OpenAPI
 * their own way, as they reach the certificate service. Messages never carry the secret key, the
 * signature or an answer's text (which may hold an API key).
 */
import type { CertificateHttp } from '../certificates/service.js';
import { OpenApiError } from '../errors.js';
import { isJsonObject } from '../protocol/json.js';
import { signOpenApiRequest, type AccessKeyCredentials } from './sign.js';
import { checkedOpenApiUrl, DEFAULT_OPENAPI_URL, DEFAULT_REGION } from './access-key-options.js';

export { DEFAULT_OPENAPI_URL, DEFAULT_REGION };
export const ARK_OPENAPI_SERVICE = 'ark';
export const ARK_OPENAPI_VERSION = '2024-01-01';

/** The base every OpenAPI call of `openApiUrl` goes to (origin and path, no query). */
export function openApiBase(openApiUrl: string = DEFAULT_OPENAPI_URL): string {
  const url = new URL(openApiUrl);
  return `${url.origin}${url.pathname === '' ? '/' : url.pathname}`;
}

/** Whether `url` is an OpenAPI call of this library to `openApiUrl` (the proxy tells them apart). */
export function isOpenApiCall(url: string, openApiUrl: string = DEFAULT_OPENAPI_URL): boolean {
  try {
    return url.startsWith(`${openApiBase(openApiUrl)}?Action=`);
  } catch {
    return false;
  }
}

export interface OpenApiClientOptions {
  credentials: AccessKeyCredentials;
  region: string;
  /** Origin (and optional path) of the OpenAPI; default `DEFAULT_OPENAPI_URL`. */
  url: string;
  http: CertificateHttp;
  now: () => number;
}

/** What a refused call is most likely about, for the error message. */
function hintFor(code: string | undefined): string {
  switch (code) {
    case 'SignatureDoesNotMatch':
    case 'InvalidAccessKey':
    case 'InvalidCredential':
    case 'InvalidAuthorization':
    case 'MissingAuthenticationToken':
      return 'check accessKey and secretKey (VOLC_ACCESSKEY / VOLC_SECRETKEY) and region';
    case 'InvalidTimestamp':
      return "check this machine's clock";
    case 'AccessDenied':
      return 'grant the access key the ark permission for this action';
    default:
      return 'check the endpoint id and that the access key may use it';
  }
}

function stringField(object: Record<string, unknown> | undefined, name: string): string | undefined {
  const value = object?.[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** A validated OpenAPI client for one access key pair. */
export class OpenApiClient {
  private readonly base: string;

  constructor(private readonly options: OpenApiClientOptions) {
    const url = checkedOpenApiUrl(options.url);
    this.base = openApiBase(url.href);
  }

  /** The `Result` of one call; throws `OpenApiError` (or the signal's reason on abort). */
  async call(action: string, body: Record<string, unknown>, signal: AbortSignal): Promise<Record<string, unknown>> {
    const { credentials, region, http, now } = this.options;
    const text = JSON.stringify(body);
    const signed = signOpenApiRequest(
      {
        method: 'POST',
        url: this.base,
        query: { Action: action, Version: ARK_OPENAPI_VERSION },
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: text,
      },
      { credentials, region, service: ARK_OPENAPI_SERVICE, date: new Date(now()) },
    );
    let answer: { status: number; text: string };
    try {
      answer = await http({ url: signed.url, headers: signed.headers, body: text, signal });
    } catch (error) {
      if (signal.aborted) throw signal.reason ?? error;
      throw new OpenApiError(
        `could not reach the Volcengine OpenAPI at ${this.base} for ${action}: ${(error as Error).message}; ` +
          'check openApiUrl and the network; nothing was sent to the chat endpoint',
        { action, cause: error },
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(answer.text);
    } catch {
      parsed = undefined;
    }
    const metadata = isJsonObject(parsed) && isJsonObject(parsed.ResponseMetadata) ? parsed.ResponseMetadata : undefined;
    const requestId = stringField(metadata, 'RequestId');
    const failure = metadata !== undefined && isJsonObject(metadata.Error) ? metadata.Error : undefined;
    const ok = answer.status >= 200 && answer.status < 300;
    if (failure !== undefined || !ok) {
      const openApiCode = stringField(failure, 'Code');
      const said = openApiCode ? `: ${openApiCode}${stringField(failure, 'Message') ? ` (${stringField(failure, 'Message')})` : ''}` : '';
      throw new OpenApiError(
        `the Volcengine OpenAPI refused ${action} with HTTP ${answer.status}${said}` +
          `${requestId ? `, request id ${requestId}` : ''}; ${hintFor(openApiCode)}. Nothing was sent to the chat endpoint`,
        { action, status: answer.status, ...(openApiCode ? { openApiCode } : {}), ...(requestId ? { requestId } : {}) },
      );
    }
    if (!isJsonObject(parsed) || !isJsonObject(parsed.Result)) {
      throw new OpenApiError(
        `the Volcengine OpenAPI answered ${action} with HTTP ${answer.status} but no Result object` +
          `${requestId ? ` (request id ${requestId})` : ''}; nothing was sent to the chat endpoint`,
        { action, status: answer.status, ...(requestId ? { requestId } : {}) },
      );
    }
    return parsed.Result;
  }

  /** An `OpenApiError` about a `Result` that lacks what `action` must give. */
  malformed(action: string, what: string): OpenApiError {
    return new OpenApiError(`the Volcengine OpenAPI's ${action} Result ${what}; nothing was sent to the chat endpoint`, { action });
  }
}
