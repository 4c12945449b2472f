/**
 * errorResponse at its edges (issue 16): the statuses at either end of the range a service's own
 * status is kept in, the status text and content type clients read, and the field path of a
 * refusal that names a message but no part. test/transport/error-response.test.ts has the table.
 */
import { describe, expect, it } from 'vitest';
import { CertificateUnavailableError, OpenApiError, UnsupportedContentError, UnsupportedRequestError } from '../../src/index.js';
import { errorResponse } from '../../src/transport/error-response.js';

describe('a service status is kept from 400 to 599, any other becomes 502', () => {
  it.each([
    [399, 502],
    [400, 400],
    [499, 499],
    [500, 500],
    [599, 599],
    [600, 502],
    [302, 502],
  ])('certificate service %i → %i, and OpenAPI the same', (given, answered) => {
    for (const error of [
      new CertificateUnavailableError('no certificate', { status: given }),
      new OpenApiError('no key', { action: 'GetApiKey', status: given }),
    ]) {
      const response = errorResponse(error);
      expect(response?.status, error.name).toBe(answered);
    }
  });

  it('any 400, the service\'s own included, is marked not to be retried (the same request fails the same way)', () => {
    const response = errorResponse(new CertificateUnavailableError('bad', { status: 400 }))!;
    expect(response.headers.get('x-should-retry')).toBe('false');
  });

  it('a 500 is a server_error, a 499 an invalid_request_error', async () => {
    const at500 = (await errorResponse(new CertificateUnavailableError('x', { status: 500 }))!.json()) as { error: { type: string } };
    expect(at500.error.type).toBe('server_error');
    const at499 = (await errorResponse(new CertificateUnavailableError('x', { status: 499 }))!.json()) as { error: { type: string } };
    expect(at499.error.type).toBe('invalid_request_error');
  });

  it('an OpenAPI error with an action but no answer (unreachable) stays thrown', () => {
    expect(errorResponse(new OpenApiError('down', { action: 'GetApiKey' }))).toBeUndefined();
  });
});

describe('what the client reads off the answer', () => {
  it.each([
    [400, 'Bad Request'],
    [401, 'Unauthorized'],
    [403, 'Forbidden'],
    [404, 'Not Found'],
    [429, 'Too Many Requests'],
    [502, 'Bad Gateway'],
    [503, ''],
  ])('status %i has status text %j, a JSON content type and the code header', (status, text) => {
    const error = status === 400 ? new UnsupportedRequestError('no') : new CertificateUnavailableError('no', { status: status === 502 ? 200 : status });
    const response = errorResponse(error)!;
    expect(response.status).toBe(status);
    expect(response.statusText).toBe(text);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(response.headers.get('x-ark-e2ee-error')).toBe(error.code);
  });

  it('a refusal of a whole message (no part) names messages[i].content as its param', async () => {
    const response = errorResponse(new UnsupportedContentError('audio is not supported', { messageIndex: 3 }))!;
    const body = (await response.json()) as { error: { param: string; message: string } };
    expect(body.error.param).toBe('messages[3].content');
    expect(body.error.message).toBe('ERR_ARK_E2EE_UNSUPPORTED_CONTENT: audio is not supported');
  });
});
