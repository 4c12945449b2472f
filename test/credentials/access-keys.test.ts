/** Which access keys apply, and which requests count as having an API key of their own. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { accessKeyCredentials, AccessKeyAuth, ownAuthorization } from '../../src/credentials/access-keys.js';
import { OpenApiError } from '../../src/errors.js';

afterEach(() => vi.unstubAllEnvs());

describe('accessKeyCredentials', () => {
  it('takes the options first, then VOLC_ACCESSKEY / VOLC_SECRETKEY', () => {
    vi.stubEnv('VOLC_ACCESSKEY', 'env-ak');
    vi.stubEnv('VOLC_SECRETKEY', 'env-sk');
    expect(accessKeyCredentials({})).toEqual({ accessKeyId: 'env-ak', secretAccessKey: 'env-sk' });
    expect(accessKeyCredentials({ accessKey: 'ak', secretKey: 'sk' })).toEqual({ accessKeyId: 'ak', secretAccessKey: 'sk' });
  });

  it('ignores half a pair in the environment (as the SDK does beside an API key) but not in the options', () => {
    vi.stubEnv('VOLC_ACCESSKEY', 'env-ak');
    vi.stubEnv('VOLC_SECRETKEY', '');
    expect(accessKeyCredentials({})).toBeUndefined();
    expect(() => accessKeyCredentials({ accessKey: 'ak' })).toThrow(OpenApiError);
    expect(() => accessKeyCredentials({ accessKey: 'ak', secretKey: '' })).toThrow(/secretKey is missing/);
  });

  it('reads the `env` option, when given, instead of the process environment', () => {
    vi.stubEnv('VOLC_ACCESSKEY', 'process-ak');
    vi.stubEnv('VOLC_SECRETKEY', 'process-sk');
    expect(accessKeyCredentials({ env: { VOLC_ACCESSKEY: 'io-ak', VOLC_SECRETKEY: 'io-sk' } })).toEqual({ accessKeyId: 'io-ak', secretAccessKey: 'io-sk' });
    // An env without the pair means no pair: the process's does not leak in.
    expect(accessKeyCredentials({ env: {} })).toBeUndefined();
  });

  it('refuses a region that is not a region name, and an openApiUrl that is not an origin', () => {
    const settings = { http: async () => ({ status: 200, text: '' }), timeoutMs: 1000, onWarning: () => {}, certificates: { http: async () => ({ status: 200, text: '' }) } };
    expect(() => AccessKeyAuth.from({ accessKey: 'a', secretKey: 's', region: 'cn-beijing/../x' }, settings)).toThrow(/region/);
    expect(() => AccessKeyAuth.from({ accessKey: 'a', secretKey: 's', openApiUrl: 'open.volcengineapi.com' }, settings)).toThrow(/openApiUrl/);
    expect(AccessKeyAuth.from({}, settings)).toBeUndefined();
  });
});

describe('ownAuthorization', () => {
  it.each([
    [undefined, undefined],
    ['Bearer', undefined],
    ['Bearer ', undefined],
    ['bearer', undefined],
    ['Bearer k', 'Bearer k'],
    ['Basic abc', 'Basic abc'],
  ])('%s → %s', (value, expected) => {
    const headers = new Headers(value === undefined ? {} : { authorization: value });
    expect(ownAuthorization(headers)).toBe(expected);
  });
});
