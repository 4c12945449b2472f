/**
 * The access-key path's code (credentials/access-keys.ts and what it imports) is loaded on the
 * first request that needs it, so that a browser bundle keeps it in a chunk of its own. When that
 * load fails (a chunk not served), the request fails with OpenApiError before anything is sent,
 * the failure is not remembered, and the next request loads it and goes out. A misconfiguration
 * of the access keys still fails when the client is made, before any load.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startMockArkServer, type MockArkServer } from '../../src/testing/index.js';

const AK = 'AKLTlazyaccesskey';
const SK = 'lazy-secret-key';
const MODEL = 'ep-20260101-lazy';

let server: MockArkServer | undefined;
afterEach(async () => {
  vi.doUnmock('../../src/credentials/access-keys.js');
  vi.resetModules();
  await server?.close();
  server = undefined;
});

describe('the access-key path, loaded on first use', () => {
  it('refuses the request with OpenApiError and sends nothing when its code cannot load, then loads it on the next request', async () => {
    server = await startMockArkServer({ openApi: { accessKey: AK, secretKey: SK, endpoints: [MODEL] } });
    let loads = 0;
    vi.resetModules();
    vi.doMock('../../src/credentials/access-keys.js', async (importOriginal) => {
      loads += 1;
      if (loads === 1) throw new Error('chunk access-keys.js answered 404');
      return importOriginal();
    });
    const { createEncryptedFetch, OpenApiError } = await import('../../src/index.js');
    const encryptedFetch = createEncryptedFetch({ errors: 'throw', accessKey: AK, secretKey: SK, openApiUrl: server.openApiUrl, cacheDir: false });
    const ask = () =>
      encryptedFetch(`${server!.url}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-is-encrypted': 'true' },
        body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'secret words' }] }),
      });

    const failure = await ask().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(OpenApiError);
    expect((failure as Error).message).toMatch(/access-key path could not load its code \(.*\); nothing was sent/);
    expect(server.requests).toHaveLength(0);

    const response = await ask();
    expect(response.status).toBe(200);
    expect(loads).toBe(2);
    expect(server.openApi!.stats).toMatchObject({ getApiKey: 1, getEndpointCertificate: 1 });
    const chats = server.requests.filter((r) => r.path.endsWith('/chat/completions'));
    expect(chats).toHaveLength(1);
    expect(chats[0]!.body).not.toContain('secret words');
  });

  it('refuses a misconfiguration when the client is made, without loading the access-key path', async () => {
    let loads = 0;
    vi.resetModules();
    vi.doMock('../../src/credentials/access-keys.js', async (importOriginal) => {
      loads += 1;
      return importOriginal();
    });
    const { createEncryptedFetch, OpenApiError } = await import('../../src/index.js');
    expect(() => createEncryptedFetch({ accessKey: AK })).toThrow(OpenApiError);
    expect(() => createEncryptedFetch({ accessKey: AK, secretKey: SK, region: 'cn-beijing/../x' })).toThrow(/region/);
    expect(() => createEncryptedFetch({ accessKey: AK, secretKey: SK, openApiUrl: 'open.volcengineapi.com' })).toThrow(/openApiUrl/);
    expect(() => createEncryptedFetch({ accessKey: AK, secretKey: SK, openApiUrl: 'https://u:p@example.com' })).toThrow(/user info/);
    createEncryptedFetch({ accessKey: AK, secretKey: SK });
    expect(loads).toBe(0);
  });
});
