/** errorResponse and networkDetail on their own: the mapping table, and causes of any shape. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ArkE2EEError,
  CertificateUnavailableError,
  DecryptionFailedError,
  EventStreamError,
  HEADER_ARK_E2EE_ERROR,
  InvalidCertificateError,
  InvalidKeyError,
  OpenApiError,
  UnsupportedContentError,
  UnsupportedRequestError,
} from '../../src/index.js';
import { errorResponse } from '../../src/transport/error-response.js';
import { networkDetail } from '../../src/transport/network-detail.js';

describe('errorResponse', () => {
  const cases: [string, unknown, number | undefined, string?][] = [
    ['unsupported content', new UnsupportedContentError('no audio', { messageIndex: 2, partIndex: 1 }), 400, 'invalid_request_error'],
    ['unsupported request', new UnsupportedRequestError('not a chat'), 400, 'invalid_request_error'],
    ['invalid certificate', new InvalidCertificateError('pin'), 400, 'invalid_request_error'],
    ['invalid key', new InvalidKeyError('key'), 400, 'invalid_request_error'],
    ['certificate service 401', new CertificateUnavailableError('no', { status: 401 }), 401, 'authentication_error'],
    ['certificate service 403', new CertificateUnavailableError('no', { status: 403 }), 403, 'permission_error'],
    ['certificate service 404', new CertificateUnavailableError('no', { status: 404 }), 404, 'not_found_error'],
    ['certificate service 429', new CertificateUnavailableError('no', { status: 429 }), 429, 'rate_limit_error'],
    ['certificate service 503', new CertificateUnavailableError('no', { status: 503 }), 503, 'server_error'],
    ['certificate service 200 without a certificate', new CertificateUnavailableError('no', { status: 200 }), 502, 'server_error'],
    ['an answer that does not decrypt', new DecryptionFailedError('bad'), 502, 'server_error'],
    ['OpenAPI refused the signature', new OpenApiError('no', { action: 'GetApiKey', status: 403, openApiCode: 'SignatureDoesNotMatch' }), 403, 'permission_error'],
    ['OpenAPI 200 without a result', new OpenApiError('no', { action: 'GetApiKey', status: 200 }), 502, 'server_error'],
    ['access keys set up wrong', new OpenApiError('only an access key, no secret key'), 400, 'invalid_request_error'],
    ['OpenAPI unreachable', new OpenApiError('down', { action: 'GetApiKey', cause: new TypeError('fetch failed') }), undefined],
    ['certificate service unreachable', new CertificateUnavailableError('down', { cause: new TypeError('fetch failed') }), undefined],
    ['a stream error', new EventStreamError('cut'), undefined],
    ['a plain ArkE2EEError', new ArkE2EEError('x'), undefined],
    ['not ours', new TypeError('fetch failed'), undefined],
    ['an abort', new DOMException('stop', 'AbortError'), undefined],
  ];
  it.each(cases)('%s', async (_name, error, status, type) => {
    const response = errorResponse(error);
    if (status === undefined) {
      expect(response).toBeUndefined();
      return;
    }
    const code = (error as ArkE2EEError).code;
    expect(response?.status).toBe(status);
    expect(response?.headers.get(HEADER_ARK_E2EE_ERROR)).toBe(code);
    expect(response?.headers.get('x-should-retry')).toBe(status === 400 ? 'false' : null);
    const body = (await response!.json()) as { error: Record<string, unknown> };
    expect(body.error).toMatchObject({ type, code, message: `${code}: ${(error as Error).message}` });
    expect(body.error['param']).toBe(error instanceof UnsupportedContentError ? 'messages[2].content[1]' : null);
  });
});

describe('networkDetail', () => {
  it('finds the system error down the cause chain, named by code and address', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:18999'), { code: 'ECONNREFUSED', address: '127.0.0.1', port: 18999 });
    expect(networkDetail(new TypeError('fetch failed', { cause: refused }))).toBe('connect ECONNREFUSED 127.0.0.1:18999');
    const dual = Object.assign(new AggregateError([refused], ''), { code: 'ECONNREFUSED' });
    expect(networkDetail(new TypeError('fetch failed', { cause: dual }))).toBe('connect ECONNREFUSED 127.0.0.1:18999');
    const bare = Object.assign(new Error(''), { code: 'ETIMEDOUT', address: '10.0.0.1', port: 443 });
    expect(networkDetail(new TypeError('fetch failed', { cause: bare }))).toBe('ETIMEDOUT 10.0.0.1:443');
    expect(networkDetail(new TypeError('fetch failed', { cause: new Error('bad port') }))).toBe('bad port');
    // The library's own codes are not network detail.
    expect(networkDetail(new CertificateUnavailableError('x'))).toBeUndefined();
    expect(networkDetail(new TypeError('fetch failed'))).toBeUndefined();
  });

  it('never throws, whatever the error and its causes are (cycles included)', () => {
    const cyclic: { message: string; cause?: unknown } = { message: 'loop' };
    cyclic.cause = cyclic;
    expect(networkDetail(cyclic)).toBe('loop');
    fc.assert(
      fc.property(fc.anything({ withObjectString: true, withNullPrototype: true }), (value) => {
        const detail = networkDetail(value);
        expect(detail === undefined || typeof detail === 'string').toBe(true);
      }),
    );
  });
});
