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
import { CertificateSource } from '../certificates/source.js';
import { EndpointApiKeys } from './api-keys.js';
import { fetchEndpointCertificate, verifyControlPlaneChain } from './endpoint-certificate.js';
import { OpenApiClient } from './openapi.js';
import type { AccessKeyCredentials } from './sign.js';
import {
  accessKeyCredentials,
  checkedRegion,
  DEFAULT_OPENAPI_URL,
  DEFAULT_REGION,
  type AccessKeyAuthSettings,
  type AccessKeyOptions,
} from './access-key-options.js';

export {
  accessKeyCredentials,
  environmentOf,
  ownAuthorization,
  type AccessKeyAuthSettings,
  type AccessKeyOptions,
} from './access-key-options.js';

/** The request header the SDKs read a preset endpoint's project from. */
export const HEADER_PROJECT_NAME = 'X-Project-Name';

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
    const region = checkedRegion(options.region ?? DEFAULT_REGION);
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

  /** The access-key path for `credentials` as read when the client was made (LazyAccessKeyAuth). */
  static withCredentials(credentials: AccessKeyCredentials, options: AccessKeyOptions, settings: AccessKeyAuthSettings): AccessKeyAuth {
    return new AccessKeyAuth(credentials, options, settings);
  }

  /** The short-lived API key for a request to `model` that has none of its own. */
  apiKey(model: string, headers: Headers, signal?: AbortSignal | null): Promise<string> {
    const project = headers.get(HEADER_PROJECT_NAME) ?? this.options.projectName;
    return this.apiKeys.get(model, project, signal);
  }
}
