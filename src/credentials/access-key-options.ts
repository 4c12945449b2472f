/**
 * The access-key settings (`accessKey`/`secretKey` or `VOLC_ACCESSKEY`/`VOLC_SECRETKEY`, region,
 * openApiUrl), read and checked when a client is made, and the access-key path itself
 * (access-keys.ts: the OpenAPI client, GetApiKey, GetEndpointCertificate) loaded on the first
 * request that needs it: most programs use an API key, and a browser bundle then keeps that
 * code in a chunk of its own. A misconfiguration still fails when the client is made.
 */
import type { CertificateHttp } from '../certificates/service.js';
import type { CertificateSourceOptions } from '../certificates/source.js';
import { OpenApiError } from '../errors.js';
import type { AccessKeyAuth } from './access-keys.js';
import type { AccessKeyCredentials } from './sign.js';

/** The public OpenAPI host the SDKs resolve for service `ark` in cn-beijing and most regions. */
export const DEFAULT_OPENAPI_URL = 'https://open.volcengineapi.com';
export const DEFAULT_REGION = 'cn-beijing';

export interface AccessKeyOptions {
  /** Access key id; default `VOLC_ACCESSKEY`. With `secretKey`, turns the access-key path on. */
  accessKey?: string;
  /** Secret access key; default `VOLC_SECRETKEY`. Used to sign, never sent. */
  secretKey?: string;
  /** Region the OpenAPI calls are signed for; default `cn-beijing`. */
  region?: string;
  /** The Volcengine OpenAPI; default `https://open.volcengineapi.com`. */
  openApiUrl?: string;
  /** Project of a preset endpoint's key (a model id), when the request has no `X-Project-Name`. */
  projectName?: string;
  /**
   * Where the environment defaults (VOLC_ACCESSKEY, VOLC_SECRETKEY, and for the transports
   * VOLC_ARK_ENCRYPTION, E2E_CERTIFICATE_PATH) are read; default the process environment.
   */
  env?: Readonly<Record<string, string | undefined>>;
}

/** Environment variable `name` of `options.env`, else of the process. */
export function environmentOf(options: { env?: Readonly<Record<string, string | undefined>> }, name: string): string | undefined {
  return options.env !== undefined ? options.env[name] : processEnvironment()?.[name];
}

/** The process environment where the runtime has one (not in browsers). */
function processEnvironment(): Record<string, string | undefined> | undefined {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
}

/**
 * The access key pair of `options`, else of the environment; `undefined` when neither has both
 * halves. Half a pair in the options is a mistake worth an error; half in the environment is
 * ignored, as the SDK ignores it when it has an API key.
 */
export function accessKeyCredentials(options: AccessKeyOptions): AccessKeyCredentials | undefined {
  const { accessKey, secretKey } = options;
  if (accessKey !== undefined || secretKey !== undefined) {
    if (!accessKey || !secretKey) {
      throw new OpenApiError(`${accessKey ? 'secretKey' : 'accessKey'} is missing: access keys are a pair (accessKey and secretKey)`);
    }
    return { accessKeyId: accessKey, secretAccessKey: secretKey };
  }
  const fromEnvId = environmentOf(options, 'VOLC_ACCESSKEY');
  const fromEnvSecret = environmentOf(options, 'VOLC_SECRETKEY');
  return fromEnvId && fromEnvSecret ? { accessKeyId: fromEnvId, secretAccessKey: fromEnvSecret } : undefined;
}

/**
 * The request's own `Authorization`, or `undefined` when it has none: absent, or a bearer token
 * that is empty (what a client set up with an empty API key sends).
 */
export function ownAuthorization(headers: Headers): string | undefined {
  const value = headers.get('authorization');
  if (value === null || /^\s*(bearer)?\s*$/i.test(value)) return undefined;
  return value;
}

/** `region`, checked: a Volcengine region name goes into the signature's scope as it is. */
export function checkedRegion(region: string): string {
  if (!/^[a-z0-9-]+$/.test(region)) throw new OpenApiError(`region "${region}" is not a Volcengine region name (e.g. cn-beijing)`);
  return region;
}

/** `openApiUrl`, checked: an absolute http(s) origin, with an optional path and nothing else. */
export function checkedOpenApiUrl(openApiUrl: string): URL {
  let url: URL;
  try {
    url = new URL(openApiUrl);
  } catch {
    throw new OpenApiError(`openApiUrl "${openApiUrl}" is not an absolute URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new OpenApiError(`openApiUrl must be http(s), not ${url.protocol}`);
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new OpenApiError('openApiUrl must be an origin (and path) without query, fragment or user info');
  }
  return url;
}

export interface AccessKeyAuthSettings {
  http: CertificateHttp;
  /** The options of the gateway path's CertificateSource, reused for the access-key path's. */
  certificates: CertificateSourceOptions;
  timeoutMs: number;
  onWarning: (message: string) => void;
  now?: () => number;
}

/**
 * The access-key path of one client: its settings checked now, its code (access-keys.ts) loaded
 * on the first `get()`. A load that fails is not remembered, so the next request tries again.
 */
export class LazyAccessKeyAuth {
  private loading: Promise<AccessKeyAuth> | undefined;

  private constructor(
    private readonly credentials: AccessKeyCredentials,
    private readonly options: AccessKeyOptions,
    private readonly settings: AccessKeyAuthSettings,
  ) {}

  /** `undefined` when no access keys are set; throws `OpenApiError` when they are set up wrong. */
  static from(options: AccessKeyOptions, settings: AccessKeyAuthSettings): LazyAccessKeyAuth | undefined {
    const credentials = accessKeyCredentials(options);
    if (credentials === undefined) return undefined;
    checkedRegion(options.region ?? DEFAULT_REGION);
    checkedOpenApiUrl(options.openApiUrl ?? DEFAULT_OPENAPI_URL);
    // The pair as read now: the environment may change before the first request.
    return new LazyAccessKeyAuth(credentials, options, settings);
  }

  /** The access-key path; `OpenApiError` (nothing sent) when its code cannot be loaded. */
  async get(): Promise<AccessKeyAuth> {
    this.loading ??= import('./access-keys.js').then(({ AccessKeyAuth }) =>
      AccessKeyAuth.withCredentials(this.credentials, this.options, this.settings),
    );
    try {
      return await this.loading;
    } catch (cause) {
      this.loading = undefined;
      if (cause instanceof OpenApiError) throw cause;
      throw new OpenApiError(
        `the access-key path could not load its code (${(cause as Error).message}); nothing was sent. ` +
          'The next request tries to load it again; if this persists, check that every chunk of the application bundle is served',
        { cause },
      );
    }
  }
}
