/**
 * The certificate service's failures, through CertificateSource and a fake CertificateHttp:
 * CertificateUnavailableError with the HTTP status and the service's message, or
 * InvalidCertificateError for a certificate that does not parse.
 */
import { describe, expect, it } from 'vitest';
import { certificateHttpOverFetch } from '../../src/certificates/service.js';
import { CertificateSource } from '../../src/certificates/source.js';
import { ArkE2EEError, CertificateUnavailableError, InvalidCertificateError } from '../../src/errors.js';
import { PLAIN, fakeHttp, memoryStore, okReply, untilAborted, type Reply } from './helpers.js';

const need = { model: 'ep-model', aicc: false, baseUrl: 'https://ark.example.com/api/v3', authorization: 'Bearer k' };

async function failure(reply: Reply | (() => Promise<Reply>), timeoutMs?: number): Promise<unknown> {
  const { http, calls } = fakeHttp(reply);
  const { store, files } = memoryStore();
  const source = new CertificateSource({ http, store, timeoutMs });
  const error = await source.get(need).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeDefined();
  expect(calls).toHaveLength(1);
  expect(files.size).toBe(0);
  return error;
}

function unavailable(error: unknown): CertificateUnavailableError {
  expect(error).toBeInstanceOf(CertificateUnavailableError);
  expect(error).toBeInstanceOf(ArkE2EEError);
  const typed = error as CertificateUnavailableError;
  expect(typed.code).toBe('ERR_ARK_E2EE_CERTIFICATE_UNAVAILABLE');
  return typed;
}

const arkError = (code: string, message: string): string =>
  JSON.stringify({ error: { code, message, param: '', type: 'Unauthorized' } });

describe('certificate service failures', () => {
  it('HTTP 401 with Ark\'s error JSON: status 401 and the service\'s message', async () => {
    const error = unavailable(await failure({ status: 401, text: arkError('AuthenticationError', 'The API key is invalid.') }));
    expect(error.status).toBe(401);
    expect(error.serviceMessage).toBe('AuthenticationError: The API key is invalid.');
    expect(error.message).toContain('HTTP 401');
    expect(error.message).toContain('The API key is invalid.');
  });

  it('HTTP 500 with an error object: status 500 and the message', async () => {
    const error = unavailable(await failure({ status: 500, text: JSON.stringify({ error: { message: 'internal' } }) }));
    expect(error.status).toBe(500);
    expect(error.serviceMessage).toBe('internal');
  });

  it('HTTP 500 with a body that is not JSON: status 500 and no service message', async () => {
    const error = unavailable(await failure({ status: 500, text: '<html>Bad Gateway</html>' }));
    expect(error.status).toBe(500);
    expect(error.serviceMessage).toBeUndefined();
  });

  it('HTTP 200 with a body that is not JSON', async () => {
    const error = unavailable(await failure({ status: 200, text: '{"Certificate": "-----BEGIN' }));
    expect(error.status).toBe(200);
    expect(error.message).toMatch(/not JSON/);
  });

  it('HTTP 200 with an error member', async () => {
    const error = unavailable(await failure({ status: 200, text: arkError('ModelNotOpen', 'encryption is not enabled') }));
    expect(error.status).toBe(200);
    expect(error.serviceMessage).toBe('ModelNotOpen: encryption is not enabled');
  });

  it('HTTP 200 with an error member next to a certificate: still refused', async () => {
    const text = JSON.stringify({ Certificate: PLAIN, error: { message: 'no' } });
    expect(unavailable(await failure({ status: 200, text })).serviceMessage).toBe('no');
  });

  it.each([
    ['no Certificate member', '{}'],
    ['a Certificate that is not a string', '{"Certificate":42}'],
    ['a JSON array', '[]'],
  ])('HTTP 200 with %s', async (_name, text) => {
    unavailable(await failure({ status: 200, text }));
  });

  it('a certificate that is not PEM is an InvalidCertificateError', async () => {
    const error = await failure({ status: 200, text: JSON.stringify({ Certificate: 'garbage' }) });
    expect(error).toBeInstanceOf(InvalidCertificateError);
    expect((error as InvalidCertificateError).code).toBe('ERR_ARK_E2EE_INVALID_CERTIFICATE');
  });

  it('a PEM block holding garbage is an InvalidCertificateError', async () => {
    const pem = '-----BEGIN CERTIFICATE-----\nAAECAwQFBgcICQ==\n-----END CERTIFICATE-----\n';
    expect(await failure(okReply(pem))).toBeInstanceOf(InvalidCertificateError);
  });

  it('a network failure is a CertificateUnavailableError with the cause', async () => {
    const cause = new TypeError('fetch failed');
    const error = unavailable(await failure(() => Promise.reject(cause)));
    expect(error.cause).toBe(cause);
    expect(error.status).toBeUndefined();
  });

  it('a service that does not answer in time is a CertificateUnavailableError', async () => {
    const { http, calls } = fakeHttp((request) => untilAborted(request.signal));
    const source = new CertificateSource({ http, timeoutMs: 50 });
    const error = unavailable(await source.get(need).catch((caught: unknown) => caught));
    expect(error.message).toMatch(/within 50 ms/);
    expect(calls[0]!.signal.aborted).toBe(true);
  });
});

describe('certificateHttpOverFetch', () => {
  it('POSTs the body and headers with the signal, and gives back status and text', async () => {
    const seen: { url: string; init: RequestInit }[] = [];
    const http = certificateHttpOverFetch(async (url, init) => {
      seen.push({ url: String(url), init: init! });
      return new Response('{"x":1}', { status: 418 });
    });
    const signal = new AbortController().signal;
    const answer = await http({ url: 'https://h/e2e/get/certificate', headers: { a: 'b' }, body: '{}', signal });
    expect(answer).toEqual({ status: 418, text: '{"x":1}' });
    expect(seen[0]).toEqual({
      url: 'https://h/e2e/get/certificate',
      init: { method: 'POST', headers: { a: 'b' }, body: '{}', signal, redirect: 'manual' },
    });
  });
});

describe('redirects are not followed (issue 17)', () => {
  const request = { url: 'https://h/api/v3/e2e/get/certificate', headers: {}, body: '{}', signal: new AbortController().signal };

  it.each([301, 302, 303, 307, 308])('HTTP %i: a CertificateUnavailableError naming the redirect and where it pointed', async (status) => {
    const location = 'https://elsewhere.example/api/v3/e2e/get/certificate';
    const error = unavailable(await failure({ status, text: '', location }));
    expect(error.status).toBe(status);
    expect(error.message).toMatch(new RegExp(`answered HTTP ${status}, a redirect to ${location.replaceAll('.', '\\.')}`));
    expect(error.message).toMatch(/not followed/);
  });

  it('fetch is asked not to follow, and a 3xx comes back as it is (its body unread)', async () => {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({ cancel: () => void (cancelled = true) });
    const http = certificateHttpOverFetch(async (_url, init) => {
      expect(init?.redirect).toBe('manual');
      return new Response(body, { status: 307, headers: { location: 'https://elsewhere.example/x' } });
    });
    expect(await http(request)).toEqual({ status: 307, text: '', location: 'https://elsewhere.example/x' });
    expect(cancelled).toBe(true);
  });

  it('a fetch that followed the redirect anyway (redirected: true) is caught, naming where it ended', async () => {
    const followed = new Response(JSON.stringify({ Certificate: PLAIN }), { status: 200 });
    Object.defineProperty(followed, 'redirected', { value: true });
    Object.defineProperty(followed, 'url', { value: 'https://elsewhere.example/e2e/get/certificate' });
    const source = new CertificateSource({ http: certificateHttpOverFetch(async () => followed) });
    const error = unavailable(await source.get(need).catch((caught: unknown) => caught));
    expect(error.message).toMatch(/with a redirect to https:\/\/elsewhere\.example\/e2e\/get\/certificate, which is not followed/);
  });

  it("a browser's opaque redirect answer (status 0) is a redirect too", async () => {
    const opaque = { type: 'opaqueredirect', status: 0, headers: new Headers(), body: null } as unknown as Response;
    const http = certificateHttpOverFetch(async () => opaque);
    const answer = await http(request);
    expect(answer.status).toBe(0);
    const { http: fake } = fakeHttp({ status: 0, text: '' });
    const source = new CertificateSource({ http: fake });
    const error = unavailable(await source.get(need).catch((caught: unknown) => caught));
    expect(error.message).toMatch(/a redirect.*not followed/);
    expect(error.status).toBeUndefined();
  });
});

describe('the certificate answer has a size limit (issue 10)', () => {
  const request = { url: 'https://h/api/v3/e2e/get/certificate', headers: {}, body: '{}', signal: new AbortController().signal };

  /** An answer of endless 64 KiB chunks; counts what was pulled and whether it was cancelled. */
  function endless(): { response: Response; pulled: () => number; cancelled: () => boolean } {
    let pulled = 0;
    let cancelled = false;
    const chunk = new Uint8Array(64 * 1024).fill(0x41);
    const body = new ReadableStream<Uint8Array>({
      pull: (controller) => {
        pulled += chunk.byteLength;
        controller.enqueue(chunk);
      },
      cancel: () => void (cancelled = true),
    }, { highWaterMark: 0 });
    return { response: new Response(body, { status: 200 }), pulled: () => pulled, cancelled: () => cancelled };
  }

  it('an endless answer stops after 1 MiB by default, with a typed error; the body is cancelled', async () => {
    const answer = endless();
    const http = certificateHttpOverFetch(async () => answer.response);
    const error = unavailable(await http(request).catch((caught: unknown) => caught));
    expect(error.message).toMatch(/larger than 1048576 bytes \(maxCertificateBytes\)/);
    expect(answer.cancelled()).toBe(true);
    expect(answer.pulled()).toBeLessThanOrEqual(1024 * 1024 + 64 * 1024);
  });

  it('the limit is an option; a content-length over it is refused before the body is read', async () => {
    const answer = endless();
    const small = certificateHttpOverFetch(async () => answer.response, { maxBytes: 100_000 });
    await expect(small(request)).rejects.toThrow(/larger than 100000 bytes/);
    expect(answer.pulled()).toBeLessThanOrEqual(100_000 + 64 * 1024);
    let cancelled = false;
    const declared = new Response(new ReadableStream({ cancel: () => void (cancelled = true) }), {
      status: 200, headers: { 'content-length': '2000000' },
    });
    const http = certificateHttpOverFetch(async () => declared);
    await expect(http(request)).rejects.toThrow(/2000000 bytes.*larger than 1048576 bytes/);
    expect(cancelled).toBe(true);
  });

  it('an answer of exactly the limit is read', async () => {
    const text = JSON.stringify({ Certificate: PLAIN });
    const size = new TextEncoder().encode(text).byteLength;
    const http = certificateHttpOverFetch(async () => new Response(text), { maxBytes: size });
    expect((await http(request)).text).toBe(text);
    const smaller = certificateHttpOverFetch(async () => new Response(text), { maxBytes: size - 1 });
    await expect(smaller(request)).rejects.toBeInstanceOf(CertificateUnavailableError);
  });

  it('the service path passes the typed error on as it is, not as "could not reach"', async () => {
    const error = unavailable(await failure(() => Promise.reject(new CertificateUnavailableError('the certificate service\'s answer is larger than 5 bytes (maxCertificateBytes)'))));
    expect(error.message).toMatch(/^the certificate service's answer is larger/);
  });
});
