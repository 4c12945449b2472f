/**
 * The OpenAPI client, the short-lived key cache and GetEndpointCertificate, over HTTP against the
 * mock server's OpenAPI (which checks every signature), with an injected clock for expiry.
 */
import { X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import { signOpenApiRequest } from '../../src/credentials/sign.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { certificateHttpOverFetch, type CertificateHttp } from '../../src/certificates/service.js';
import {
  API_KEY_ADVISORY_REFRESH_MS,
  API_KEY_DURATION_SECONDS,
  API_KEY_MANDATORY_REFRESH_MS,
  EndpointApiKeys,
  resourceTypeOf,
} from '../../src/credentials/api-keys.js';
import { fetchEndpointCertificate } from '../../src/credentials/endpoint-certificate.js';
import { OpenApiClient } from '../../src/credentials/openapi.js';
import { InvalidCertificateError, OpenApiError } from '../../src/errors.js';
import { createMockCertificate, startMockArkServer, type MockArkServer } from '../../src/testing/index.js';
import { createMockPcaChain } from '../../src/testing/openapi-pki.js';

const AK = 'AKLTtestaccesskey';
const SK = 'test-secret-key';
const ENDPOINT = 'ep-20260101-mock';

let server: MockArkServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A clock that starts now and moves only when told. */
function fakeClock() {
  let now = Date.now();
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

async function setUp(
  opts: { secretKey?: string; accessKey?: string; region?: string; clientNow?: () => number; http?: (inner: CertificateHttp) => CertificateHttp } = {},
  mockOptions: Partial<Parameters<typeof startMockArkServer>[0] & object> = {},
) {
  const clock = fakeClock();
  server = await startMockArkServer({
    ...mockOptions,
    openApi: { accessKey: AK, secretKey: SK, endpoints: [ENDPOINT, 'ep-m-preset', 'doubao-model'], now: clock.now, ...mockOptions.openApi },
  });
  const inner = certificateHttpOverFetch(fetch);
  const client = new OpenApiClient({
    credentials: { accessKeyId: opts.accessKey ?? AK, secretAccessKey: opts.secretKey ?? SK },
    region: opts.region ?? 'cn-beijing',
    url: server.openApiUrl!,
    http: opts.http ? opts.http(inner) : inner,
    now: opts.clientNow ?? clock.now,
  });
  const warnings: string[] = [];
  const keys = new EndpointApiKeys({ client, now: clock.now, timeoutMs: 5000, onWarning: (m) => warnings.push(m) });
  return { server, client, keys, clock, warnings };
}

async function refusal(promise: Promise<unknown>): Promise<OpenApiError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(OpenApiError);
  return error as OpenApiError;
}

describe('OpenApiClient against the mock OpenAPI', () => {
  it('gets a key with a correctly signed GetApiKey call', async () => {
    const { server, keys } = await setUp();
    const key = await keys.get(ENDPOINT, undefined);
    expect(key).toMatch(/^mock-sts-/);
    expect(server.openApi!.accepts(`Bearer ${key}`)).toBe(true);
    const call = server.requests.find((r) => r.path.startsWith('/?'))!;
    expect(call.method).toBe('POST');
    expect(call.path).toBe('/?Action=GetApiKey&Version=2024-01-01');
    expect(JSON.parse(call.body)).toEqual({ DurationSeconds: API_KEY_DURATION_SECONDS, ResourceType: 'endpoint', ResourceIds: [ENDPOINT] });
    expect(call.headers['authorization']).toMatch(
      new RegExp(`^HMAC-SHA256 Credential=${AK}/\\d{8}/cn-beijing/ark/request, SignedHeaders=content-type;host;x-content-sha256;x-date, Signature=[0-9a-f]{64}$`),
    );
    // The secret itself never travels.
    expect(JSON.stringify(server.requests)).not.toContain(SK);
  });

  it.each([
    ['a wrong secret key', { secretKey: 'wrong' }, 401, 'SignatureDoesNotMatch'],
    ['an unknown access key', { accessKey: 'AKLTother' }, 401, 'InvalidAccessKey'],
    ['another region', { region: 'cn-shanghai' }, 400, 'InvalidCredential'],
  ] as const)('refuses %s with the OpenAPI code and request id', async (_what, opts, status, code) => {
    const { server, keys } = await setUp(opts);
    const error = await refusal(keys.get(ENDPOINT, undefined));
    expect(error.code).toBe('ERR_ARK_E2EE_OPENAPI');
    expect(error.action).toBe('GetApiKey');
    expect(error.status).toBe(status);
    expect(error.openApiCode).toBe(code);
    expect(error.requestId).toMatch(/mock/);
    expect(error.message).toContain(code);
    expect(error.message).toContain(error.requestId);
    expect(server.openApi!.stats.refused).toBe(1);
  });

  it('refuses a signature made with a clock 20 minutes off', async () => {
    const clock = fakeClock();
    const { keys } = await setUp({ clientNow: () => clock.now() + 20 * 60 * 1000 });
    expect((await refusal(keys.get(ENDPOINT, undefined))).openApiCode).toBe('InvalidTimestamp');
  });

  it.each([
    ['the body', (r: Parameters<CertificateHttp>[0]) => ({ ...r, body: r.body.replace('endpoint', 'presetendpoint') })],
    ['the query', (r: Parameters<CertificateHttp>[0]) => ({ ...r, url: r.url.replace('GetApiKey', 'GetEndpointCertificate') })],
    ['a signed header', (r: Parameters<CertificateHttp>[0]) => ({ ...r, headers: { ...r.headers, 'Content-Type': 'text/plain' } })],
  ])('the mock catches a request whose %s changed after signing', async (_what, tamper) => {
    const { keys } = await setUp({ http: (inner) => (request) => inner(tamper(request)) });
    expect((await refusal(keys.get(ENDPOINT, undefined))).openApiCode).toBe('SignatureDoesNotMatch');
  });

  it('gives an unknown endpoint the OpenAPI code', async () => {
    const { keys } = await setUp();
    const error = await refusal(keys.get('ep-unknown', undefined));
    expect([error.status, error.openApiCode]).toEqual([404, 'NotFound.Endpoint']);
    expect(error.requestId).toBeDefined();
  });

  it('asks preset endpoints for a key in a project, and refuses one without a project before any call', async () => {
    const { server, keys } = await setUp();
    expect(resourceTypeOf('ep-m-preset')).toBe('presetendpoint');
    expect(resourceTypeOf('doubao-model')).toBe('presetendpoint');
    expect(resourceTypeOf('bot-1')).toBe('bot');
    await expect(keys.get('doubao-model', '  ')).rejects.toThrow(/project/);
    expect(server.requests).toHaveLength(0);
    await keys.get('doubao-model', 'my-project');
    expect(JSON.parse(server.requests[0]!.body)).toMatchObject({ ResourceType: 'presetendpoint', ProjectName: 'my-project' });
  });
});

describe('signer and the mock verifier agree', () => {
  it('for a query parameter named __proto__ (an own key, read back as one)', async () => {
    const { server } = await setUp();
    const query: Record<string, string> = { Action: 'GetApiKey', Version: '2024-01-01' };
    Object.defineProperty(query, '__proto__', { value: '', enumerable: true, configurable: true, writable: true });
    const signed = signOpenApiRequest(
      { method: 'POST', url: `${server.openApiUrl}/`, query, headers: { 'Content-Type': 'application/json' }, body: '' },
      { credentials: { accessKeyId: AK, secretAccessKey: SK }, region: 'cn-beijing', service: 'ark', date: new Date() },
    );
    const answer = (await (await fetch(signed.url, { method: 'POST', headers: signed.headers, body: '' })).json()) as { ResponseMetadata: { Error?: { Code: string } } };
    expect(answer.ResponseMetadata.Error?.Code).not.toBe('SignatureDoesNotMatch');
  });

  it('for arbitrary extra query parameters, X- headers and bodies (non-ASCII included)', async () => {
    const { server } = await setUp();
    const headerValue = fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/);
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.string({ unit: 'grapheme', minLength: 1 }).filter((k) => k !== 'Action' && k !== 'Version'), fc.string({ unit: 'grapheme' }), { maxKeys: 4 }),
        fc.dictionary(fc.stringMatching(/^X-[A-Za-z0-9-]{1,12}$/), headerValue, { maxKeys: 3 }),
        fc.string({ unit: 'grapheme' }),
        async (extraQuery, extraHeaders, body) => {
          const unique = Object.fromEntries(Object.entries(extraHeaders).filter(([name], i, all) => all.findIndex(([other]) => other.toLowerCase() === name.toLowerCase()) === i));
          const signed = signOpenApiRequest(
            { method: 'POST', url: `${server.openApiUrl}/`, query: { ...extraQuery, Action: 'GetApiKey', Version: '2024-01-01' }, headers: { 'Content-Type': 'application/json', ...unique }, body },
            { credentials: { accessKeyId: AK, secretAccessKey: SK }, region: 'cn-beijing', service: 'ark', date: new Date() },
          );
          const answer = (await (await fetch(signed.url, { method: 'POST', headers: signed.headers, body })).json()) as { ResponseMetadata: { Error?: { Code: string } } };
          // Past the signature check: the body may be refused, the signature never.
          expect(['InvalidParameter', 'MissingParameter', undefined]).toContain(answer.ResponseMetadata.Error?.Code);
        },
      ),
      { numRuns: 60 },
    );
    expect(server.openApi!.stats.refused).toBe(0);
  });
});

describe('EndpointApiKeys: single flight and refresh before expiry (fake clock)', () => {
  it('makes one call however many requests wait', async () => {
    const { server, keys } = await setUp();
    const got = await Promise.all(Array.from({ length: 20 }, () => keys.get(ENDPOINT, undefined)));
    expect(new Set(got).size).toBe(1);
    expect(server.openApi!.stats.getApiKey).toBe(1);
  });

  it('uses the key until 30 minutes before expiry, refreshes behind the request, then waits from 10 minutes before', async () => {
    const { server, keys, clock } = await setUp({}, { openApi: { accessKey: AK, secretKey: SK, apiKeyLifetimeSeconds: 2 * 60 * 60 } });
    const first = await keys.get(ENDPOINT, undefined);
    const expires = clock.now() + 2 * 60 * 60 * 1000;

    clock.advance(expires - clock.now() - API_KEY_ADVISORY_REFRESH_MS - 1000);
    expect(await keys.get(ENDPOINT, undefined)).toBe(first);
    expect(server.openApi!.stats.getApiKey).toBe(1);

    // Inside the advisory window: the old key now, a new one fetched meanwhile.
    clock.advance(2000);
    expect(await keys.get(ENDPOINT, undefined)).toBe(first);
    await vi.waitFor(() => expect(server.openApi!.stats.getApiKey).toBe(2));
    const second = await keys.get(ENDPOINT, undefined);
    expect(second).not.toBe(first);

    // Past the mandatory line of the second key: the request waits for a third.
    clock.advance(2 * 60 * 60 * 1000 - API_KEY_MANDATORY_REFRESH_MS + 1000);
    const third = await keys.get(ENDPOINT, undefined);
    expect(third).not.toBe(second);
    expect(server.openApi!.stats.getApiKey).toBe(3);
    expect(server.openApi!.accepts(`Bearer ${third}`)).toBe(true);
  });

  it('keeps the key when a background refresh fails, and fails the request when a due refresh fails', async () => {
    let broken = false;
    const { keys, clock, warnings } = await setUp(
      { http: (inner) => (request) => (broken ? Promise.reject(new Error('network down')) : inner(request)) },
      { openApi: { accessKey: AK, secretKey: SK, apiKeyLifetimeSeconds: 60 * 60 } },
    );
    const first = await keys.get(ENDPOINT, undefined);
    broken = true;
    clock.advance(60 * 60 * 1000 - API_KEY_ADVISORY_REFRESH_MS + 1000);
    const during = await Promise.all(Array.from({ length: 5 }, () => keys.get(ENDPOINT, undefined)));
    expect(new Set(during)).toEqual(new Set([first]));
    await vi.waitFor(() => expect(warnings).toHaveLength(1));
    expect(warnings[0]).toContain('network down');
    expect(warnings[0]).not.toContain(first);
    clock.advance(API_KEY_ADVISORY_REFRESH_MS);
    await expect(keys.get(ENDPOINT, undefined)).rejects.toThrow(OpenApiError);
  });

  it('never keeps a key longer than it asked for, whatever ExpiredTime says', async () => {
    const clock = fakeClock();
    let calls = 0;
    const http: CertificateHttp = async () => {
      calls += 1;
      // Milliseconds where seconds are due: ~55 000 years ahead if taken at its word.
      return { status: 200, text: JSON.stringify({ ResponseMetadata: { RequestId: 'r' }, Result: { ApiKey: `k${calls}`, ExpiredTime: clock.now() } }) };
    };
    const client = new OpenApiClient({ credentials: { accessKeyId: AK, secretAccessKey: SK }, region: 'cn-beijing', url: 'https://open.example', http, now: clock.now });
    const keys = new EndpointApiKeys({ client, now: clock.now, timeoutMs: 1000, onWarning: () => {} });
    expect(await keys.get(ENDPOINT, undefined)).toBe('k1');
    clock.advance(API_KEY_DURATION_SECONDS * 1000 - API_KEY_MANDATORY_REFRESH_MS + 1000);
    expect(await keys.get(ENDPOINT, undefined)).toBe('k2');
  });

  it('refuses answers without a usable key, never showing the key', async () => {
    const results = [
      { ApiKey: 'sk-secret-value', ExpiredTime: '1700000000' },
      { ApiKey: '', ExpiredTime: 2e9 },
      { ApiKey: 'sk-secret-value', ExpiredTime: 1 },
      { ApiKey: 'sk-secret-value\r\nX-Injected: 1', ExpiredTime: 2e9 },
      { ApiKey: ['sk-secret-value'], ExpiredTime: 2e9 },
    ];
    for (const result of results) {
      const http: CertificateHttp = async () => ({ status: 200, text: JSON.stringify({ ResponseMetadata: { RequestId: 'r1' }, Result: result }) });
      const client = new OpenApiClient({ credentials: { accessKeyId: AK, secretAccessKey: SK }, region: 'cn-beijing', url: 'https://open.example', http, now: Date.now });
      const keys = new EndpointApiKeys({ client, now: Date.now, timeoutMs: 1000, onWarning: () => {} });
      const error = await refusal(keys.get(ENDPOINT, undefined));
      expect(error.message).not.toContain('sk-secret-value');
    }
  });
});

describe('EndpointApiKeys: hangs and aborts', () => {
  const hanging: CertificateHttp = ({ signal }) => new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
  const keysOver = (http: CertificateHttp, timeoutMs: number) =>
    new EndpointApiKeys({
      client: new OpenApiClient({ credentials: { accessKeyId: AK, secretAccessKey: SK }, region: 'cn-beijing', url: 'https://open.example', http, now: Date.now }),
      now: Date.now,
      timeoutMs,
      onWarning: () => {},
    });

  it('gives up a GetApiKey that does not answer within the timeout', async () => {
    const error = await refusal(keysOver(hanging, 50).get(ENDPOINT, undefined));
    expect(error.message).toMatch(/within 50 ms/);
  });

  it("rejects with the caller's reason when the caller aborts", async () => {
    const controller = new AbortController();
    const waiting = keysOver(hanging, 5000).get(ENDPOINT, undefined, controller.signal);
    controller.abort(new Error('caller left'));
    await expect(waiting).rejects.toThrow('caller left');
  });
});

describe('OpenAPI answers that are not right', () => {
  const clientWith = (http: CertificateHttp) =>
    new OpenApiClient({ credentials: { accessKeyId: AK, secretAccessKey: SK }, region: 'cn-beijing', url: 'https://open.example', http, now: Date.now });

  it.each([
    ['a 502 with HTML', { status: 502, text: '<html>bad gateway</html>' }, /HTTP 502/],
    ['a 200 that is not JSON', { status: 200, text: 'nope' }, /no Result/],
    ['a 200 without Result', { status: 200, text: '{"ResponseMetadata":{"RequestId":"r2"}}' }, /no Result.*r2/],
    ['an Error in a 200', { status: 200, text: '{"ResponseMetadata":{"RequestId":"r3","Error":{"Code":"AccessDenied","Message":"no"}}}' }, /AccessDenied/],
  ])('%s is an OpenApiError', async (_what, reply, message) => {
    const error = await refusal(clientWith(async () => reply).call('GetApiKey', {}, AbortSignal.timeout(1000)));
    expect(error.message).toMatch(message);
  });

  it('rejects with the caller reason on abort, and reports a network failure', async () => {
    const controller = new AbortController();
    controller.abort(new Error('caller gave up'));
    const aborted = clientWith(async ({ signal }) => Promise.reject(signal.reason)).call('GetApiKey', {}, controller.signal);
    await expect(aborted).rejects.toThrow('caller gave up');
    const down = await refusal(clientWith(async () => Promise.reject(new TypeError('fetch failed'))).call('GetApiKey', {}, AbortSignal.timeout(1000)));
    expect(down.message).toMatch(/could not reach/);
  });

  it('refuses an openApiUrl that is not an origin', () => {
    for (const url of ['open.volcengineapi.com', 'ftp://x', 'https://x/?a=1', 'https://u:p@x/']) {
      expect(() => new OpenApiClient({ credentials: { accessKeyId: AK, secretAccessKey: SK }, region: 'cn-beijing', url, http: async () => ({ status: 200, text: '' }), now: Date.now })).toThrow(OpenApiError);
    }
  });
});

describe('GetEndpointCertificate', () => {
  it('gives the model certificate and its sub-CA, verified against the answer chain', async () => {
    const { server, client } = await setUp();
    const pem = await fetchEndpointCertificate(client, { model: ENDPOINT, aicc: false, signal: AbortSignal.timeout(5000), now: Date.now() });
    const [model, sub, root] = pem.split(/(?<=-----END CERTIFICATE-----)\n/);
    expect(root!.trim()).toBe(server.openApi!.chain.rootPem.trim());
    expect(new X509Certificate(model!).publicKey.export({ format: 'jwk' })).toEqual(server.certificate.publicKey.export({ format: 'jwk' }));
    expect(new X509Certificate(model!).checkIssued(new X509Certificate(sub!))).toBe(true);
    expect(JSON.parse(server.requests[0]!.body)).toEqual({ Id: ENDPOINT });
  });

  it('asks for the AICC certificate in AICC mode', async () => {
    const { server, client } = await setUp({}, { aicc: true });
    await fetchEndpointCertificate(client, { model: ENDPOINT, aicc: true, signal: AbortSignal.timeout(5000), now: Date.now() });
    expect(JSON.parse(server.requests[0]!.body)).toEqual({ Id: ENDPOINT, Type: 'AICCv0.1' });
  });

  it('refuses a certificate that does not chain to the root the answer gave', async () => {
    const mockCertificate = createMockCertificate();
    const ours = createMockPcaChain(mockCertificate);
    const theirs = createMockPcaChain(mockCertificate);
    const { client } = await setUp({}, { certificate: mockCertificate, openApi: { accessKey: AK, secretKey: SK, chain: { ...ours, rootPem: theirs.rootPem } } });
    const fetching = fetchEndpointCertificate(client, { model: ENDPOINT, aicc: false, signal: AbortSignal.timeout(5000), now: Date.now() });
    await expect(fetching).rejects.toThrow(InvalidCertificateError);
    await expect(fetching).rejects.toThrow(/against the CA chain GetEndpointCertificate gave with it/);
  });

  it('refuses a chain that repeats a certificate (a self-signed model certificate as its own root)', async () => {
    const self = createMockCertificate();
    const { client } = await setUp({}, { certificate: self, openApi: { accessKey: AK, secretKey: SK, chain: { instancePem: self.certificatePem, subCaPem: self.certificatePem, rootPem: self.certificatePem } } });
    await expect(fetchEndpointCertificate(client, { model: ENDPOINT, aicc: false, signal: AbortSignal.timeout(5000), now: Date.now() })).rejects.toThrow(/repeats/);
  });

  it('refuses an answer without its chain', async () => {
    const http: CertificateHttp = async () => ({
      status: 200,
      text: JSON.stringify({ ResponseMetadata: { RequestId: 'r' }, Result: { PCAInstanceCertificate: createMockCertificate().certificatePem } }),
    });
    const client = new OpenApiClient({ credentials: { accessKeyId: AK, secretAccessKey: SK }, region: 'cn-beijing', url: 'https://open.example', http, now: Date.now });
    await expect(fetchEndpointCertificate(client, { model: ENDPOINT, aicc: false, signal: AbortSignal.timeout(1000), now: Date.now() })).rejects.toThrow(/PCASubCACertificate/);
  });
});
