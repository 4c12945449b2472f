/**
 * The trust checks (trust-check.ts, with trust-path.ts and signature.ts) load on the first
 * verification, so that a browser bundle keeps them in a chunk of its own. When that load fails
 * (a chunk not served), the request fails with CertificateUnavailableError before anything is
 * sent, the failure is not remembered, and the next request loads the code, checks and goes out.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startMockArkServer, type MockArkServer } from '../../src/testing/index.js';

let server: MockArkServer | undefined;
afterEach(async () => {
  vi.doUnmock('../../src/certificates/trust-check.js');
  vi.resetModules();
  await server?.close();
  server = undefined;
});

describe('the trust checks, loaded on first use', () => {
  it('refuse the request with CertificateUnavailableError and send nothing when their code cannot load, then load on the next request', async () => {
    server = await startMockArkServer();
    let loads = 0;
    vi.resetModules();
    vi.doMock('../../src/certificates/trust-check.js', async (importOriginal) => {
      loads += 1;
      if (loads === 1) throw new Error('chunk trust-check.js answered 404');
      return importOriginal();
    });
    const { createEncryptedFetch, certificateKeyPin, CertificateUnavailableError } = await import('../../src/index.js');
    const pin = await certificateKeyPin(server.certificatePem);
    expect(loads).toBe(0); // the pin of a certificate needs no check code
    const encryptedFetch = createEncryptedFetch({ errors: 'throw', pinnedKeys: [pin], cacheDir: false });
    const ask = () =>
      encryptedFetch(`${server!.url}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-is-encrypted': 'true', authorization: 'Bearer k' },
        body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'secret words' }] }),
      });
    const chats = () => server!.requests.filter((r) => r.path.endsWith('/chat/completions'));

    const failure = await ask().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(CertificateUnavailableError);
    // vitest wraps the factory's error; the load's own error is kept as the cause and quoted.
    const cause = (failure as Error).cause;
    expect(cause).toBeInstanceOf(Error);
    expect((failure as Error).message).toBe(
      `the certificate trust check could not load its code (${(cause as Error).message}); nothing was sent. ` +
        'The next request tries to load it again; if this persists, check that every chunk of the application bundle is served',
    );
    expect(chats()).toHaveLength(0);

    const response = await ask();
    expect(response.status).toBe(200);
    expect(loads).toBe(2);
    expect(chats()).toHaveLength(1);
    expect(chats()[0]!.body).not.toContain('secret words');
  });

  it('are not loaded without pinnedKeys or trustAnchors', async () => {
    server = await startMockArkServer();
    let loads = 0;
    vi.resetModules();
    vi.doMock('../../src/certificates/trust-check.js', async (importOriginal) => {
      loads += 1;
      return importOriginal();
    });
    const { createEncryptedFetch } = await import('../../src/index.js');
    const encryptedFetch = createEncryptedFetch({ errors: 'throw', cacheDir: false });
    const response = await encryptedFetch(`${server.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-is-encrypted': 'true', authorization: 'Bearer k' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hello' }] }),
    });
    expect(response.status).toBe(200);
    expect(loads).toBe(0);
  });
});
