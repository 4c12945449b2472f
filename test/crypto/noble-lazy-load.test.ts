/**
 * createEncryptedFetch loads noble's P-256 on first need (crypto/noble-lazy.ts), so that a browser
 * bundle keeps it in a chunk of its own. The module is imported from its own file, not through
 * src/browser.ts, whose synchronous API imports noble statically. When that load fails (a chunk not served), the request
 * fails with an ArkE2EEError before anything is sent, the failure is not remembered, and the next
 * request loads the code and goes out encrypted.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startMockArkServer, type MockArkServer } from '../../src/testing/index.js';

let server: MockArkServer | undefined;
afterEach(async () => {
  vi.doUnmock('../../src/crypto/noble.js');
  vi.resetModules();
  await server?.close();
  server = undefined;
});

describe("noble's P-256, loaded on first need by createEncryptedFetch", () => {
  it('refuses the request and sends nothing when its code cannot load, then loads on the next request', async () => {
    server = await startMockArkServer();
    let loads = 0;
    vi.resetModules();
    vi.doMock('../../src/crypto/noble.js', async (importOriginal) => {
      loads += 1;
      if (loads === 1) throw new Error('chunk noble.js answered 404');
      return importOriginal();
    });
    const { createEncryptedFetch } = await import('../../src/transport/create-encrypted-fetch.js');
    const { ArkE2EEError } = await import('../../src/errors.js');
    // backend 'noble' asks for it (as a page without crypto.subtle would); no pool, so each
    // request makes its own session.
    const encryptedFetch = createEncryptedFetch({ errors: 'throw', backend: 'noble', sessionPool: 0, cacheDir: false });
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
    expect(failure).toBeInstanceOf(ArkE2EEError);
    expect((failure as Error).message).toMatch(/could not load the pure-JavaScript P-256 code \(noble\).*nothing was sent/);
    expect(chats()).toHaveLength(0);

    const response = await ask();
    expect(response.status).toBe(200);
    expect(loads).toBe(2);
    expect(chats()).toHaveLength(1);
    expect(chats()[0]!.body).not.toContain('secret words');
    // Loaded once, kept: the next session does not load it again.
    expect((await ask()).status).toBe(200);
    expect(loads).toBe(2);
  });

  it('is not loaded when the handshake runs elsewhere (node:crypto here)', async () => {
    server = await startMockArkServer();
    let loads = 0;
    vi.resetModules();
    vi.doMock('../../src/crypto/noble.js', async (importOriginal) => {
      loads += 1;
      return importOriginal();
    });
    const { createEncryptedFetch } = await import('../../src/transport/create-encrypted-fetch.js');
    const encryptedFetch = createEncryptedFetch({ errors: 'throw', cacheDir: false });
    const response = await encryptedFetch(`${server.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-is-encrypted': 'true', authorization: 'Bearer k' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(response.status).toBe(200);
    expect(loads).toBe(0);
  });
});
