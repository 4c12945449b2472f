/**
 * Access-key credentials, as the official Python SDK has them (`Ark(ak=…, sk=…, region=…)`, or
 * `VOLC_ACCESSKEY` / `VOLC_SECRETKEY`): a request that carries no API key of its own gets the
 * endpoint's short-lived key (api-keys.ts) and its certificate from `GetEndpointCertificate`
 * (endpoint-certificate.ts) instead of from the inference gateway. A request that carries its own
 * `Authorization` is left as it is, and its certificate comes from the certificate service with
 * that key, as the SDK does when it has an API key.
 *
 * The access-key path has a CertificateSource of its own (same options, same disk cache, same
 * trust checks), whose memory is not shared with the gateway path and whose cache reads count
 * only a file that holds the control plane's chain and verifies against it: a certificate that
 * came from the gateway is never used on this path.
 */
import type { CachedCertificate, CertificateStore } from '../certificates/disk-cache.js';
import type { CertificateHttp } from '../certificates/service.js';
import { CertificateSource, type CertificateSourceOptions } from '../certificates/source.js';
import { OpenApiError } from '../errors.js';
import { EndpointApiKeys } from './api-keys.js';
import { fetchEndpointCertificate, verifyControlPlaneChain } from './endpoint-certificate.js';
import { DEFAULT_OPENAPI_URL, DEFAULT_REGION, OpenApiClient } from './openapi.js';
import type { AccessKeyCredentials } from './sign.js';

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

/** The request header the SDKs read a preset endpoint's project from. */
export const HEADER_PROJECT_NAME = 'X-Project-Name';

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

export interface AccessKeyAuthSettings {
  http: CertificateHttp;
  /** The options of the gateway path's CertificateSource, reused for the access-key path's. */
  certificates: CertificateSourceOptions;
  timeoutMs: number;
  onWarning: (message: string) => void;
  now?: () => number;
}

/** `store`, reading only files that hold a control plane chain that verifies now. */
function controlPlaneOnly(store: CertificateStore | undefined, now: () => number): CertificateStore | undefined {
  if (store === undefined) return undefined;
  return {
    fileFor: (baseUrl, model) => store.fileFor(baseUrl, model),
    async read(baseUrl: string, model: string): Promise<CachedCertificate | undefined> {
      const cached = await store.read(baseUrl, model);
      if (cached === undefined) return undefined;
      const verified = await verifyControlPlaneChain(cached.pem, now(), `the cached certificate of model "${model}"`).then(
        () => true,
        () => false,
      );
      return verified ? cached : undefined; // fetched again, and written over
    },
    write: (baseUrl, model, pem) => store.write(baseUrl, model, pem),
  };
}

export class AccessKeyAuth {
  readonly apiKeys: EndpointApiKeys;
  /** Certificates of the access-key path: GetEndpointCertificate, then the shared caches. */
  readonly certificates: CertificateSource;
  private readonly client: OpenApiClient;
  private readonly now: () => number;

  private constructor(
    credentials: AccessKeyCredentials,
    private readonly options: AccessKeyOptions,
    settings: AccessKeyAuthSettings,
  ) {
    this.now = settings.now ?? Date.now;
    const region = options.region ?? DEFAULT_REGION;
    if (!/^[a-z0-9-]+$/.test(region)) throw new OpenApiError(`region "${region}" is not a Volcengine region name (e.g. cn-beijing)`);
    this.client = new OpenApiClient({ credentials, region, url: options.openApiUrl ?? DEFAULT_OPENAPI_URL, http: settings.http, now: this.now });
    this.apiKeys = new EndpointApiKeys({ client: this.client, now: this.now, timeoutMs: settings.timeoutMs, onWarning: settings.onWarning });
    const shared = settings.certificates;
    this.certificates = new CertificateSource({
      ...shared,
      store: controlPlaneOnly(shared.store, this.now),
      fetchPem: (need, signal) => fetchEndpointCertificate(this.client, { model: need.model, aicc: need.aicc, signal, now: this.now() }),
    });
  }

  /** The access-key path for `options`, or `undefined` when no access keys are set. */
  static from(options: AccessKeyOptions, settings: AccessKeyAuthSettings): AccessKeyAuth | undefined {
    const credentials = accessKeyCredentials(options);
    return credentials === undefined ? undefined : new AccessKeyAuth(credentials, options, settings);
  }

  /** The short-lived API key for a request to `model` that has none of its own. */
  apiKey(model: string, headers: Headers, signal?: AbortSignal | null): Promise<string> {
    const project = headers.get(HEADER_PROJECT_NAME) ?? this.options.projectName;
    return this.apiKeys.get(model, project, signal);
  }
}
