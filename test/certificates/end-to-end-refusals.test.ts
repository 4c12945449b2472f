/**
 * End to end through createEncryptedFetch: the certificate option and E2E_CERTIFICATE_PATH, every
 * refusal (and that the chat endpoint then gets nothing), and the request's AbortSignal reaching
 * the certificate fetch.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CertificateUnavailableError, InvalidCertificateError, createEncryptedFetch } from '../../src/index.js';
import { startMockArkServer, type MockArkServer } from '../../src/testing/index.js';
import { chat, chatRequests, contentOf, filesUnder, gate, untilAborted, useTempCacheDir } from './helpers.js';

const API_KEY = 'cert-test-key';
let server: MockArkServer;
let tmp: string;
let cacheDir: string;

beforeAll(async () => {
  server = await startMockArkServer({ apiKey: API_KEY });
});
afterAll(() => server.close());
useTempCacheDir((dirs) => ({ tmp, cacheDir } = dirs));

const isCertificatePath = (input: Parameters<typeof fetch>[0]): boolean =>
  (input instanceof Request ? input.url : String(input)).endsWith('/e2e/get/certificate');

/** A fetch that answers certificate requests with `answer` and passes the rest to the server. */
function doctored(answer: (init: RequestInit | undefined) => Promise<Response>): typeof fetch {
  return (input, init) => (isCertificatePath(input) ? answer(init) : globalThis.fetch(input, init));
}

/** Sends one request to `on` that must be refused; the error, after checking no chat was sent. */
async function refusal(fetchFn: typeof fetch, on: MockArkServer = server, key = API_KEY): Promise<unknown> {
  const chatsBefore = chatRequests(on).length;
  const error = await chat(fetchFn, on.url, { key }).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeDefined();
  expect(chatRequests(on).length).toBe(chatsBefore);
  return error;
}

describe('certificates handed over', () => {
  it('the certificate option as a string: no certificate fetch, nothing cached', async () => {
    const before = server.certificateRequests;
    const fetchFn = createEncryptedFetch({ errors: 'throw', cacheDir, certificate: server.certificatePem });
    expect(await contentOf(await chat(fetchFn, server.url, { text: 'hi' }))).toBe('echo: hi');
    expect(server.certificateRequests).toBe(before);
    expect(await filesUnder(tmp)).toEqual([]);
  });

  it('the certificate option as a function is called with the model name', async () => {
    const before = server.certificateRequests;
    const asked: string[] = [];
    const fetchFn = createEncryptedFetch({ errors: 'throw',
      cacheDir,
      certificate: (model) => {
        asked.push(model);
        return server.certificatePem;
      },
    });
    expect(await contentOf(await chat(fetchFn, server.url, { model: 'ep-one', text: 'a' }))).toBe('echo: a');
    expect(await contentOf(await chat(fetchFn, server.url, { model: 'ep-two', text: 'b' }))).toBe('echo: b');
    expect(asked).toEqual(['ep-one', 'ep-two']);
    expect(server.certificateRequests).toBe(before);
  });

  it('E2E_CERTIFICATE_PATH is read, and the service is not asked', async () => {
    const file = join(tmp, 'model.pem');
    await writeFile(file, server.certificatePem);
    vi.stubEnv('E2E_CERTIFICATE_PATH', file);
    const before = server.certificateRequests;
    const fetchFn = createEncryptedFetch({ errors: 'throw', cacheDir });
    expect(await contentOf(await chat(fetchFn, server.url, { text: 'env' }))).toBe('echo: env');
    expect(server.certificateRequests).toBe(before);
    expect(await filesUnder(cacheDir)).toEqual([]);
  });

  it('the certificate option comes before E2E_CERTIFICATE_PATH', async () => {
    vi.stubEnv('E2E_CERTIFICATE_PATH', join(tmp, 'missing.pem'));
    const fetchFn = createEncryptedFetch({ errors: 'throw', cacheDir, certificate: server.certificatePem });
    expect(await contentOf(await chat(fetchFn, server.url, { text: 'x' }))).toBe('echo: x');
  });

  it('an E2E_CERTIFICATE_PATH that cannot be read is refused, with no fallback to the service', async () => {
    vi.stubEnv('E2E_CERTIFICATE_PATH', join(tmp, 'missing.pem'));
    const before = server.certificateRequests;
    const error = await refusal(createEncryptedFetch({ errors: 'throw', cacheDir }));
    expect(error).toBeInstanceOf(InvalidCertificateError);
    expect((error as Error).message).toContain('E2E_CERTIFICATE_PATH');
    expect(server.certificateRequests).toBe(before);
  });
});

describe('refusals: the chat endpoint gets nothing', () => {
  it('the service\'s 401 is a CertificateUnavailableError with the status and its message', async () => {
    const error = await refusal(createEncryptedFetch({ errors: 'throw', cacheDir }), server, 'wrong-key');
    expect(error).toBeInstanceOf(CertificateUnavailableError);
    const typed = error as CertificateUnavailableError;
    expect(typed.code).toBe('ERR_ARK_E2EE_CERTIFICATE_UNAVAILABLE');
    expect(typed.status).toBe(401);
    expect(typed.serviceMessage).toBe('AuthenticationError: The API key in the request is missing or invalid.');
    expect(await filesUnder(tmp)).toEqual([]);
  });

  it.each([
    ['HTTP 500', 500, '{"error":{"code":"InternalServiceError","message":"try later"}}', 'InternalServiceError: try later'],
    ['a body that is not JSON', 200, 'certificate!', undefined],
    ['an error member', 200, '{"error":{"code":"ModelNotOpen","message":"not enabled"}}', 'ModelNotOpen: not enabled'],
  ])('%s is a CertificateUnavailableError', async (_name, status, text, serviceMessage) => {
    const fetchFn = createEncryptedFetch({ errors: 'throw', cacheDir, fetch: doctored(async () => new Response(text, { status })) });
    const error = await refusal(fetchFn);
    expect(error).toBeInstanceOf(CertificateUnavailableError);
    expect((error as CertificateUnavailableError).status).toBe(status);
    expect((error as CertificateUnavailableError).serviceMessage).toBe(serviceMessage);
  });

  it('a certificate that is garbage is an InvalidCertificateError', async () => {
    const fetchFn = createEncryptedFetch({ errors: 'throw',
      cacheDir,
      fetch: doctored(async () => Response.json({ Certificate: '-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----' })),
    });
    expect(await refusal(fetchFn)).toBeInstanceOf(InvalidCertificateError);
    expect(await filesUnder(tmp)).toEqual([]);
  });

  it.each([
    ['expired', { notBefore: new Date(Date.UTC(2020, 0, 1)), notAfter: new Date(Date.UTC(2021, 0, 1)) }],
    ['not yet valid', { notBefore: new Date(Date.now() + 86_400_000), notAfter: new Date(Date.now() + 2 * 86_400_000) }],
  ])('an %s certificate from the service is refused, one fetch per request, never cached', async (_name, validity) => {
    const odd = await startMockArkServer({ apiKey: API_KEY, ...validity });
    try {
      const fetchFn = createEncryptedFetch({ errors: 'throw', cacheDir });
      for (let request = 1; request <= 2; request++) {
        const error = await refusal(fetchFn, odd);
        expect(error).toBeInstanceOf(InvalidCertificateError);
        expect((error as Error).message).toMatch(/not valid now/);
        expect(odd.certificateRequests).toBe(request);
      }
      expect(await filesUnder(tmp)).toEqual([]);
    } finally {
      await odd.close();
    }
  });
});

describe('the request\'s AbortSignal', () => {
  it('aborting while the certificate fetch hangs rejects promptly with the reason and aborts that fetch', async () => {
    let certificateSignal: AbortSignal | undefined;
    const fetchFn = createEncryptedFetch({ errors: 'throw',
      cacheDir,
      fetch: doctored((init) => {
        certificateSignal = init!.signal!;
        return untilAborted(certificateSignal);
      }),
    });
    const chatsBefore = chatRequests(server).length;
    const controller = new AbortController();
    const pending = chat(fetchFn, server.url, { signal: controller.signal });
    await vi.waitFor(() => expect(certificateSignal).toBeDefined());
    const reason = new Error('the user closed the page');
    const started = performance.now();
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    expect(performance.now() - started).toBeLessThan(500);
    expect(certificateSignal!.aborted).toBe(true);
    expect(chatRequests(server).length).toBe(chatsBefore);
  });

  it('two requests wait on one fetch; one aborts, the other still gets the certificate', async () => {
    const opened = gate();
    let fetches = 0;
    const fetchFn = createEncryptedFetch({ errors: 'throw',
      cacheDir,
      fetch: doctored(async (init) => {
        fetches++;
        await opened.promise;
        return globalThis.fetch(`${server.url}/e2e/get/certificate`, init);
      }),
    });
    const controller = new AbortController();
    const leaving = chat(fetchFn, server.url, { signal: controller.signal, text: 'leaving' });
    const staying = chat(fetchFn, server.url, { signal: new AbortController().signal, text: 'staying' });
    await vi.waitFor(() => expect(fetches).toBe(1));
    const reason = new Error('changed my mind');
    controller.abort(reason);
    await expect(leaving).rejects.toBe(reason);
    opened.open();
    expect(await contentOf(await staying)).toBe('echo: staying');
    expect(fetches).toBe(1);
    expect(chatRequests(server).at(-1)!.decryptedMessages).toEqual([{ role: 'user', content: 'staying' }]);
  });
});
