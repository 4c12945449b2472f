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
    expect(seen[0]).toEqual({ url: 'https://h/e2e/get/certificate', init: { method: 'POST', headers: { a: 'b' }, body: '{}', signal } });
  });
});
