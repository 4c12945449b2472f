/**
 * The whole access-key path on loopback: createEncryptedFetch, the undici interceptor and the
 * proxy, with accessKey / secretKey (or VOLC_ACCESSKEY / VOLC_SECRETKEY), against the mock
 * server's OpenAPI and chat endpoint. Nothing reaches the chat endpoint when the OpenAPI refuses.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request as undiciRequest } from 'undici';
import OpenAI from 'openai';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { arkEncryption, certificateKeyPin, createEncryptedFetch, InvalidCertificateError, OpenApiError } from '../../src/index.js';
import { startEncryptingProxy, type EncryptingProxy } from '../../src/transport/proxy.js';
import { createMockCertificate, startMockArkServer, mockAnswerText, type MockArkServer } from '../../src/testing/index.js';
import { createMockPcaChain } from '../../src/testing/openapi-pki.js';
import { makeCertificate } from '../helpers/make-certificate.js';
import { originCacheFile } from '../certificates/helpers.js';

const AK = 'AKLTe2eaccesskey';
const SK = 'e2e-secret-key';
const MODEL = 'ep-20260101-e2e';

let server: MockArkServer | undefined;
let proxy: EncryptingProxy | undefined;
afterEach(async () => {
  vi.unstubAllEnvs();
  await proxy?.close();
  await server?.close();
  proxy = undefined;
  server = undefined;
});

async function mock(options: Parameters<typeof startMockArkServer>[0] = {}): Promise<MockArkServer> {
  server = await startMockArkServer({ openApi: { accessKey: AK, secretKey: SK, endpoints: [MODEL] }, ...options });
  return server;
}

const chatRequests = (s: MockArkServer) => s.requests.filter((r) => r.path.endsWith('/chat/completions'));
const serviceCertificateRequests = (s: MockArkServer) => s.requests.filter((r) => r.path.endsWith('/e2e/get/certificate'));

function ask(fetchFn: typeof fetch, s: MockArkServer, { model = MODEL, authorization }: { model?: string; authorization?: string } = {}) {
  return fetchFn(`${s.url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-is-encrypted': 'true', ...(authorization ? { authorization } : {}) },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: '你好, access keys' }] }),
  });
}

const expectedAnswer = mockAnswerText([{ role: 'user', content: '你好, access keys' }]);

describe('createEncryptedFetch with access keys', () => {
  it('gets the key and the certificate from the OpenAPI, and the chat goes out encrypted with the short-lived key', async () => {
    const s = await mock();
    const encryptedFetch = createEncryptedFetch({ errors: 'throw', accessKey: AK, secretKey: SK, openApiUrl: s.openApiUrl, cacheDir: false });
    for (let i = 0; i < 3; i++) {
      const response = await ask(encryptedFetch, s);
      expect(response.status).toBe(200);
      expect(((await response.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBe(expectedAnswer);
    }
    expect(s.openApi!.stats).toMatchObject({ getApiKey: 1, getEndpointCertificate: 1, refused: 0 });
    expect(serviceCertificateRequests(s)).toHaveLength(0);
    const chats = chatRequests(s);
    expect(chats).toHaveLength(3);
    for (const chat of chats) {
      expect(s.openApi!.accepts(chat.headers['authorization'])).toBe(true);
      expect(chat.body).not.toContain('access keys');
      expect(chat.decryptedMessages).toEqual([{ role: 'user', content: '你好, access keys' }]);
    }
    expect(JSON.stringify(s.requests)).not.toContain(SK);
  });

  it('leaves a request with its own API key alone: its key, and the certificate service', async () => {
    const s = await mock({ apiKey: 'own-key' });
    const encryptedFetch = createEncryptedFetch({ errors: 'throw', accessKey: AK, secretKey: SK, openApiUrl: s.openApiUrl, cacheDir: false });
    expect((await ask(encryptedFetch, s, { authorization: 'Bearer own-key' })).status).toBe(200);
    expect(s.openApi!.stats.getApiKey + s.openApi!.stats.getEndpointCertificate).toBe(0);
    expect(serviceCertificateRequests(s)).toHaveLength(1);
    expect(chatRequests(s)[0]!.headers['authorization']).toBe('Bearer own-key');
  });

  it('works under the openai client with its Authorization header taken away', async () => {
    const s = await mock();
    const client = new OpenAI({
      apiKey: 'unused',
      defaultHeaders: { Authorization: null },
      baseURL: s.url,
      maxRetries: 0,
      fetch: createEncryptedFetch({ errors: 'throw', accessKey: AK, secretKey: SK, openApiUrl: s.openApiUrl, cacheDir: false }),
    });
    const completion = await client.chat.completions.create(
      { model: MODEL, messages: [{ role: 'user', content: '你好, access keys' }] },
      { headers: { 'x-is-encrypted': 'true' } },
    );
    expect(completion.choices[0]!.message.content).toBe(expectedAnswer);
    expect(s.openApi!.accepts(chatRequests(s)[0]!.headers['authorization'])).toBe(true);
  });

  it('reads VOLC_ACCESSKEY and VOLC_SECRETKEY as the SDK does', async () => {
    const s = await mock();
    vi.stubEnv('VOLC_ACCESSKEY', AK);
    vi.stubEnv('VOLC_SECRETKEY', SK);
    const response = await ask(createEncryptedFetch({ errors: 'throw', openApiUrl: s.openApiUrl, cacheDir: false }), s);
    expect(response.status).toBe(200);
    expect(s.openApi!.stats.getApiKey).toBe(1);
  });

  it.each([
    ['a wrong secret key', { secretKey: 'not-the-secret' }, MODEL, 'SignatureDoesNotMatch'],
    ['an unknown endpoint', {}, 'ep-20990101-nope', 'NotFound.Endpoint'],
  ])('%s: a typed error with the OpenAPI code and request id, and nothing sent to chat', async (_what, opts, model, code) => {
    const s = await mock();
    const encryptedFetch = createEncryptedFetch({ errors: 'throw', accessKey: AK, secretKey: SK, ...opts, openApiUrl: s.openApiUrl, cacheDir: false });
    const error = await ask(encryptedFetch, s, { model }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(OpenApiError);
    expect((error as OpenApiError).code).toBe('ERR_ARK_E2EE_OPENAPI');
    expect((error as OpenApiError).openApiCode).toBe(code);
    expect((error as OpenApiError).requestId).toMatch(/mock/);
    expect(chatRequests(s)).toHaveLength(0);
    expect(s.stats.chatRequests).toBe(0);
  });

  it('caches the certificate on disk like one from the service: a new client makes no GetEndpointCertificate call', async () => {
    const s = await mock();
    const cacheDir = await mkdtemp(join(tmpdir(), 'ark-e2ee-ak-cache-'));
    try {
      const options = { accessKey: AK, secretKey: SK, openApiUrl: s.openApiUrl, cacheDir };
      expect((await ask(createEncryptedFetch(options), s)).status).toBe(200);
      const cached = await readFile(originCacheFile(cacheDir, s.url, MODEL), 'utf8');
      const { instancePem, subCaPem, rootPem } = s.openApi!.chain;
      expect(cached).toBe(`${instancePem.trim()}\n${subCaPem.trim()}\n${rootPem.trim()}\n`);
      expect((await ask(createEncryptedFetch(options), s)).status).toBe(200);
      expect(s.openApi!.stats.getEndpointCertificate).toBe(1);
      expect(s.openApi!.stats.getApiKey).toBe(2); // keys are per client, in memory only
      // The chain kept beside the certificate lets trustAnchors verify the cached copy too.
      const pinned = createEncryptedFetch({ ...options, trustAnchors: [s.openApi!.chain.rootPem] });
      expect((await ask(pinned, s)).status).toBe(200);
      expect(s.openApi!.stats.getEndpointCertificate).toBe(1);
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  });

  it('asks for the AICC certificate in AICC mode, and the chat carries its ring and key ids', async () => {
    const s = await mock({ aicc: true });
    const encryptedFetch = createEncryptedFetch({ errors: 'throw', accessKey: AK, secretKey: SK, openApiUrl: s.openApiUrl, cacheDir: false, aicc: true });
    expect((await ask(encryptedFetch, s)).status).toBe(200);
    const certificateCall = s.requests.find((r) => r.path.includes('GetEndpointCertificate'))!;
    expect(JSON.parse(certificateCall.body)).toEqual({ Id: MODEL, Type: 'AICCv0.1' });
    expect(JSON.parse(chatRequests(s)[0]!.headers['x-encrypt-info']!)).toMatchObject({ Version: 'AICCv0.1', RingID: 'ring-mock', KeyID: 'key-mock' });
  });

  it('never uses a certificate that came from the gateway: not from memory, not from the disk cache', async () => {
    const s = await mock({ apiKey: 'own-key' });
    const cacheDir = await mkdtemp(join(tmpdir(), 'ark-e2ee-ak-cache-'));
    try {
      const encryptedFetch = createEncryptedFetch({ errors: 'throw', accessKey: AK, secretKey: SK, openApiUrl: s.openApiUrl, cacheDir });
      // An API-key call first: the gateway's certificate, in memory and on disk.
      expect((await ask(encryptedFetch, s, { authorization: 'Bearer own-key' })).status).toBe(200);
      expect(await readFile(originCacheFile(cacheDir, s.url, MODEL), 'utf8')).toBe(s.certificatePem);
      // An access-key call then asks the control plane all the same, and replaces the file.
      expect((await ask(encryptedFetch, s)).status).toBe(200);
      expect(s.openApi!.stats.getEndpointCertificate).toBe(1);
      expect(await readFile(originCacheFile(cacheDir, s.url, MODEL), 'utf8')).toContain(s.openApi!.chain.rootPem.trim());
      // A cached chain that does not verify is not used either.
      const other = createMockPcaChain(createMockCertificate());
      await writeFile(originCacheFile(cacheDir, s.url, MODEL), `${s.openApi!.chain.instancePem}${other.subCaPem}${other.rootPem}`, { mode: 0o600 });
      expect((await ask(createEncryptedFetch({ errors: 'throw', accessKey: AK, secretKey: SK, openApiUrl: s.openApiUrl, cacheDir }), s)).status).toBe(200);
      expect(s.openApi!.stats.getEndpointCertificate).toBe(2);
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  });

  it('the mock chat endpoint takes only keys GetApiKey gave, while they last', async () => {
    const s = await mock();
    const plain = (authorization?: string) =>
      fetch(`${s.url}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'x' }] }),
      });
    for (const authorization of [undefined, 'Bearer undefined', 'Bearer mock-sts-made-up']) {
      expect((await plain(authorization)).status).toBe(401);
    }
  });

  it('checks pinnedKeys on this path too', async () => {
    const s = await mock();
    const base = { accessKey: AK, secretKey: SK, openApiUrl: s.openApiUrl, cacheDir: false as const };
    const pin = await certificateKeyPin(s.certificatePem); // the instance certificate has the same key
    expect((await ask(createEncryptedFetch({ ...base, pinnedKeys: [pin] }), s)).status).toBe(200);
    await expect(ask(createEncryptedFetch({ errors: 'throw', ...base, pinnedKeys: [Buffer.alloc(32, 7).toString('base64')] }), s)).rejects.toThrow(InvalidCertificateError);
    expect(chatRequests(s)).toHaveLength(1);
  });

  it('refuses half a pair when the client is made', () => {
    expect(() => createEncryptedFetch({ accessKey: AK })).toThrow(OpenApiError);
    expect(() => createEncryptedFetch({ secretKey: SK })).toThrow(/accessKey is missing/);
  });

  it('lets the user pin the control plane root with trustAnchors; another root refuses, nothing sent', async () => {
    const s = await mock();
    const pinned = createEncryptedFetch({ errors: 'throw', accessKey: AK, secretKey: SK, openApiUrl: s.openApiUrl, cacheDir: false, trustAnchors: [s.openApi!.chain.rootPem] });
    expect((await ask(pinned, s)).status).toBe(200);

    const otherRoot = makeCertificate({ commonName: 'ark-e2ee mock PCA root', ca: true }).pem;
    const wrong = createEncryptedFetch({ errors: 'throw', accessKey: AK, secretKey: SK, openApiUrl: s.openApiUrl, cacheDir: false, trustAnchors: [otherRoot] });
    await expect(ask(wrong, s)).rejects.toThrow(InvalidCertificateError);
    expect(chatRequests(s)).toHaveLength(1);
  });
});

describe('the undici interceptor and the proxy with access keys', () => {
  it('arkEncryption gets the key and certificate from the OpenAPI', async () => {
    const s = await mock();
    const dispatcher = new Agent().compose(arkEncryption({ accessKey: AK, secretKey: SK, openApiUrl: s.openApiUrl, cacheDir: false }));
    try {
      const answer = await undiciRequest(`${s.url}/chat/completions`, {
        dispatcher,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-is-encrypted': 'true' },
        body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: '你好, access keys' }] }),
      });
      expect(answer.statusCode).toBe(200);
      expect(((await answer.body.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBe(expectedAnswer);
    } finally {
      await dispatcher.close();
    }
    expect(s.openApi!.stats).toMatchObject({ getApiKey: 1, getEndpointCertificate: 1 });
    expect(s.openApi!.accepts(chatRequests(s)[0]!.headers['authorization'])).toBe(true);
  });

  it('the proxy gives a client without an API key the short-lived one', async () => {
    const s = await mock();
    proxy = await startEncryptingProxy({ upstream: s.url, port: 0, accessKey: AK, secretKey: SK, openApiUrl: s.openApiUrl, cacheDir: false });
    const response = await ask(fetch, { ...s, url: proxy.url } as MockArkServer);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBe(expectedAnswer);
    expect(s.openApi!.accepts(chatRequests(s)[0]!.headers['authorization'])).toBe(true);
  });

  it('the proxy answers an OpenAPI refusal with its code, and sends nothing to chat', async () => {
    const s = await mock();
    proxy = await startEncryptingProxy({ upstream: s.url, port: 0, accessKey: AK, secretKey: 'wrong', openApiUrl: s.openApiUrl, cacheDir: false });
    const response = await ask(fetch, { ...s, url: proxy.url } as MockArkServer);
    expect(response.status).toBe(502);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('ERR_ARK_E2EE_OPENAPI');
    expect(body.error.message).toContain('SignatureDoesNotMatch');
    expect(chatRequests(s)).toHaveLength(0);
  });
});
