/**
 * src/certificates/service.ts at its edges (issue 16): the redirect range to the status, the
 * size limit with and without a declared length, bodies that are absent or split mid-character,
 * what is taken as the service's own message, and each message in full (what went wrong and
 * what to do). The HTTP layer is a fetch function answering built Responses.
 */
import { describe, expect, it } from 'vitest';
import {
  certificateAnswerTooLarge,
  certificateHttpOverFetch,
  fetchCertificatePem,
  isRedirect,
  type CertificateServiceRequest,
} from '../../src/certificates/service.js';
import { CertificateUnavailableError } from '../../src/errors.js';
import { PLAIN, fakeHttp, okReply, type Reply } from '../certificates/helpers.js';

const URL_ = 'https://ark.example.com/api/v3/e2e/get/certificate';
const request = { url: URL_, headers: {}, body: '{}', signal: new AbortController().signal };
const serviceRequest = (extra: Partial<CertificateServiceRequest> = {}): CertificateServiceRequest => ({
  baseUrl: 'https://ark.example.com/api/v3',
  model: 'ep-model',
  aicc: false,
  authorization: 'Bearer k',
  signal: new AbortController().signal,
  ...extra,
});

async function unavailable(promise: Promise<unknown>): Promise<CertificateUnavailableError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(CertificateUnavailableError);
  expect((error as CertificateUnavailableError).code).toBe('ERR_ARK_E2EE_CERTIFICATE_UNAVAILABLE');
  return error as CertificateUnavailableError;
}

const fromService = (reply: Reply, extra: Partial<CertificateServiceRequest> = {}) =>
  unavailable(fetchCertificatePem(fakeHttp(reply).http, serviceRequest(extra)));

/** A body that records whether it was read and cancelled. */
function watchedBody(chunks: Uint8Array[]): { body: ReadableStream<Uint8Array>; pulled: () => number; cancelled: () => boolean } {
  let pulled = 0;
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = chunks[pulled++];
      if (chunk === undefined) controller.close();
      else controller.enqueue(chunk);
    },
    cancel: () => void (cancelled = true),
  }, { highWaterMark: 0 });
  return { body, pulled: () => pulled, cancelled: () => cancelled };
}

describe('what is a redirect', () => {
  it('300 to 399, and 0 (an opaque redirect); not 299 or 400', () => {
    expect([0, 300, 301, 399].map(isRedirect)).toEqual([true, true, true, true]);
    expect([200, 299, 400, 404].map(isRedirect)).toEqual([false, false, false, false]);
  });

  it('HTTP 300 is refused as a redirect; HTTP 400 as an answer the service gave', async () => {
    expect((await fromService({ status: 300, text: '' })).message).toMatch(/^the certificate service answered HTTP 300, a redirect, which is not followed/);
    expect((await fromService({ status: 400, text: 'bad' })).message).toMatch(/^the certificate service answered HTTP 400 for model "ep-model"/);
  });

  it('a redirect without a location is named without one, and says what to do', async () => {
    const error = await fromService({ status: 302, text: '' });
    expect(error.message).toBe(
      'the certificate service answered HTTP 302, a redirect, which is not followed for the certificate (it would decide who ' +
        'can read your requests); nothing was sent. Give the base URL the service answers at directly',
    );
    expect(error.status).toBe(302);
  });

  it('a 3xx without a location comes back from fetch with no location and no text', async () => {
    const http = certificateHttpOverFetch(async () => new Response(null, { status: 302 }));
    expect(await http(request)).toEqual({ status: 302, text: '' });
  });

  it("an answer of type 'opaqueredirect' is a redirect whatever its status says: its body is not read", async () => {
    const watched = watchedBody([new TextEncoder().encode(JSON.stringify({ Certificate: PLAIN }))]);
    const response = { type: 'opaqueredirect', redirected: false, status: 200, headers: new Headers(), body: watched.body } as unknown as Response;
    const http = certificateHttpOverFetch(async () => response);
    expect(await http(request)).toEqual({ status: 200, text: '' });
    expect(watched.pulled()).toBe(0);
    expect(watched.cancelled()).toBe(true);
  });
});

describe('the size limit', () => {
  it('an answer read past the limit: the message names the limit, with no declared length', async () => {
    const http = certificateHttpOverFetch(async () => new Response('x'.repeat(11)), { maxBytes: 10 });
    expect((await unavailable(http(request))).message).toBe(
      "the certificate service's answer is larger than 10 bytes (maxCertificateBytes), so it was not read to its end; " +
        'a certificate is a few kilobytes: check the base URL',
    );
    expect(certificateAnswerTooLarge(10, 11).message).toMatch(/^the certificate service's answer \(11 bytes\) is larger than 10 bytes/);
  });

  it('a declared length equal to the limit is read; one byte more is refused unread, the body cancelled', async () => {
    const text = JSON.stringify({ Certificate: PLAIN });
    const size = new TextEncoder().encode(text).byteLength;
    const at = certificateHttpOverFetch(async () => new Response(text, { headers: { 'content-length': String(size) } }), { maxBytes: size });
    expect(await at(request)).toEqual({ status: 200, text });
    const watched = watchedBody([new TextEncoder().encode(text)]);
    const over = certificateHttpOverFetch(
      async () => new Response(watched.body, { headers: { 'content-length': String(size) } }),
      { maxBytes: size - 1 },
    );
    expect((await unavailable(over(request))).message).toMatch(new RegExp(`^the certificate service's answer \\(${size} bytes\\) is larger than ${size - 1} bytes`));
    expect(watched.pulled()).toBe(0);
    expect(watched.cancelled()).toBe(true);
  });

  it('a declared length over the limit with no body at all is the same typed refusal', async () => {
    const response = { redirected: false, type: 'basic', status: 200, headers: new Headers({ 'content-length': '2000000' }), body: null } as unknown as Response;
    const http = certificateHttpOverFetch(async () => response);
    expect((await unavailable(http(request))).message).toMatch(/^the certificate service's answer \(2000000 bytes\) is larger than 1048576 bytes/);
  });
});

describe('the body', () => {
  it('an answer without a body is empty text', async () => {
    const http = certificateHttpOverFetch(async () => new Response(null, { status: 204 }));
    expect(await http(request)).toEqual({ status: 204, text: '' });
  });

  it('a character split across two chunks is decoded whole', async () => {
    const bytes = new TextEncoder().encode('{"x":"é€"}');
    const cut = bytes.indexOf(0xc3) + 1;
    const watched = watchedBody([bytes.subarray(0, cut), bytes.subarray(cut, cut + 2), bytes.subarray(cut + 2)]);
    const http = certificateHttpOverFetch(async () => new Response(watched.body));
    expect((await http(request)).text).toBe('{"x":"é€"}');
  });
});

describe("the service's own message", () => {
  it('is taken only from an `error` object: a string `error` is not one', async () => {
    const error = await fromService({ status: 500, text: JSON.stringify({ error: 'boom' }) });
    expect(error.serviceMessage).toBeUndefined();
    expect(error.message).toBe('the certificate service answered HTTP 500 for model "ep-model"; check the API key and that the model has encryption enabled');
  });

  it('an `error` object without a message is given as its JSON', async () => {
    const error = await fromService({ status: 403, text: JSON.stringify({ error: { code: 'Forbidden' } }) });
    expect(error.serviceMessage).toBe('{"code":"Forbidden"}');
    expect(error.message).toBe(
      'the certificate service answered HTTP 403 for model "ep-model": {"code":"Forbidden"}; check the API key and that the model has encryption enabled',
    );
  });
});

describe('the request and its failures', () => {
  it('every trailing slash of the base URL is dropped', async () => {
    const { http, calls } = fakeHttp(okReply(PLAIN));
    await fetchCertificatePem(http, serviceRequest({ baseUrl: 'https://ark.example.com/api/v3//' }));
    expect(calls[0]!.url).toBe(URL_);
  });

  it('a failure after the caller aborted is the abort reason, whatever the HTTP layer threw', async () => {
    const controller = new AbortController();
    const reason = new Error('caller gave up');
    controller.abort(reason);
    const { http } = fakeHttp(() => Promise.reject(new TypeError('fetch failed')));
    await expect(fetchCertificatePem(http, serviceRequest({ signal: controller.signal }))).rejects.toBe(reason);
  });

  it('a network failure names the URL and what to check, and keeps the cause', async () => {
    const cause = new TypeError('fetch failed');
    const error = await unavailable(fetchCertificatePem(fakeHttp(() => Promise.reject(cause)).http, serviceRequest()));
    expect(error.message).toBe(`could not reach the certificate service at ${URL_}: fetch failed; check the base URL and the network`);
    expect(error.cause).toBe(cause);
  });

  it('a status under 200 is refused even with a certificate in the body', async () => {
    const error = await fromService({ status: 199, text: JSON.stringify({ Certificate: PLAIN }) });
    expect(error.status).toBe(199);
    expect(error.message).toBe('the certificate service answered HTTP 199 for model "ep-model"; check the API key and that the model has encryption enabled');
  });

  it('a 200 without a certificate: named with the model, and with the service message when there is one', async () => {
    expect((await fromService({ status: 200, text: '{}' })).message).toBe('the certificate service gave no certificate for model "ep-model"');
    const withMessage = await fromService({ status: 200, text: JSON.stringify({ error: { code: 'ModelNotOpen', message: 'not enabled' } }) });
    expect(withMessage.message).toBe('the certificate service gave no certificate for model "ep-model": ModelNotOpen: not enabled');
  });
});
