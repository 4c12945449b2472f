/**
 * Issue 7, faults of the certificate endpoint, over real HTTP against the mock server's
 * `certificateFault` modes (test/certificates/end-to-end-refusals.test.ts doctors the fetch
 * instead): 5xx, 4xx, a hang (certificateTimeout), invalid JSON, an `error` member, garbage PEM,
 * a P-384 key, an expired and a not-yet-valid certificate, a redirect to another origin (issue 17)
 * and an answer that never ends (issue 10: at most maxCertificateBytes are read). Each ends in a typed error, the chat
 * endpoint sees nothing, no text of the conversation is sent anywhere, nothing is cached.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Agent, interceptors, request as undiciRequest } from 'undici';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  InvalidOptionError,
  ArkE2EEError,
  CertificateUnavailableError,
  InvalidCertificateError,
  arkEncryption,
  createEncryptedFetch,
} from '../../src/index.js';
import { CERTIFICATE_FAULTS, startMockArkServer, type CertificateFault, type MockArkServer } from '../../src/testing/index.js';
import { filesUnder, removeDir, tempDir } from '../certificates/helpers.js';
import { API_KEY, SECRET, chatRequestsOf, encryptedChat, everythingSent, trackSockets } from './helpers.js';

const TIMEOUT_MS = 300;
const servers: MockArkServer[] = [];
let tmp: string;

beforeEach(async () => {
  vi.stubEnv('E2E_CERTIFICATE_PATH', '');
  vi.stubEnv('VOLC_ARK_ENCRYPTION', '');
  tmp = await tempDir();
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await removeDir(tmp);
});
afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

async function faultyServer(certificateFault: CertificateFault): Promise<MockArkServer> {
  const server = await startMockArkServer({ apiKey: API_KEY, certificateFault });
  servers.push(server);
  return server;
}

interface Expectation {
  type: typeof CertificateUnavailableError | typeof InvalidCertificateError;
  status?: number;
  serviceMessage?: string;
  message: RegExp;
}

const EXPECTED: Record<CertificateFault, Expectation> = {
  hang: { type: CertificateUnavailableError, message: new RegExp(`did not answer within ${TIMEOUT_MS} ms`) },
  '500': {
    type: CertificateUnavailableError, status: 500, message: /HTTP 500/,
    serviceMessage: 'InternalServiceError: The service encountered an unexpected internal error.',
  },
  '403': {
    type: CertificateUnavailableError, status: 403, message: /HTTP 403/,
    serviceMessage: 'AccessDenied: The request is not authorized to get the certificate of this model.',
  },
  'invalid-json': { type: CertificateUnavailableError, status: 200, message: /not JSON/ },
  'error-member': {
    type: CertificateUnavailableError, status: 200, message: /gave no certificate/,
    serviceMessage: 'ModelNotOpen: Encryption is not enabled for this model.',
  },
  'garbage-pem': { type: InvalidCertificateError, message: /certificate/ },
  p384: { type: InvalidCertificateError, message: /P-384/ },
  expired: { type: InvalidCertificateError, message: /not valid now/ },
  'not-yet-valid': { type: InvalidCertificateError, message: /not valid now/ },
  redirect: { type: CertificateUnavailableError, status: 307, message: /HTTP 307, a redirect to http:\/\/localhost:\d+\/api\/v3\/e2e\/get\/certificate, which is not followed/ },
  oversized: { type: CertificateUnavailableError, message: /larger than 1048576 bytes \(maxCertificateBytes\)/ },
};

describe.each(CERTIFICATE_FAULTS)('certificate endpoint fault "%s"', (fault) => {
  it.each([
    ['a non-streamed', false],
    ['a streamed', true],
  ])('%s request ends in a typed error; nothing reaches the chat endpoint, nothing is cached', async (_kind, stream) => {
    const server = await faultyServer(fault);
    const expected = EXPECTED[fault];
    const cacheDir = join(tmp, 'certs');
    const fetchFn = createEncryptedFetch({ errors: 'throw', cacheDir, certificateTimeout: TIMEOUT_MS, onWarning: () => undefined });
    const started = performance.now();
    for (let attempt = 1; attempt <= 2; attempt++) {
      const error = await encryptedChat(fetchFn, server.url, { stream }).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(expected.type);
      expect(error).toBeInstanceOf(ArkE2EEError);
      const typed = error as CertificateUnavailableError & InvalidCertificateError;
      expect(typed.code).toBe(expected.type.code);
      expect(typed.message).toMatch(expected.message);
      if (expected.status !== undefined) expect(typed.status).toBe(expected.status);
      if (expected.serviceMessage !== undefined) expect(typed.serviceMessage).toBe(expected.serviceMessage);
      // A failure is not remembered: each request asks again.
      expect(server.certificateRequests).toBe(attempt);
    }
    if (fault === 'hang') {
      const elapsed = performance.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(2 * TIMEOUT_MS - 20);
      expect(elapsed).toBeLessThan(2 * TIMEOUT_MS + 3_000);
    }
    expect(chatRequestsOf(server)).toEqual([]);
    expect(server.stats.chatRequests).toBe(0);
    const sent = everythingSent(server);
    expect(sent).not.toContain('secret');
    expect(sent).not.toContain('秘密');
    expect(await filesUnder(tmp)).toEqual([]);
  });
});

describe('a hanging certificate endpoint', () => {
  it('the default certificateTimeout is 30 s: the request is still waiting after a second', async () => {
    const server = await faultyServer('hang');
    const fetchFn = createEncryptedFetch({ errors: 'throw', cacheDir: false });
    const controller = new AbortController();
    let settled = false;
    const pending = encryptedChat(fetchFn, server.url, { signal: controller.signal }).finally(() => {
      settled = true;
    });
    await vi.waitFor(() => expect(server.certificateRequests).toBe(1));
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(settled).toBe(false);
    controller.abort(new Error('enough'));
    await expect(pending).rejects.toThrow('enough');
    expect(chatRequestsOf(server)).toEqual([]);
  });

  it('the timeout closes the certificate request\'s connection', async () => {
    const server = await faultyServer('hang');
    const sockets = trackSockets(server);
    const fetchFn = createEncryptedFetch({ errors: 'throw', cacheDir: false, certificateTimeout: TIMEOUT_MS });
    await expect(encryptedChat(fetchFn, server.url)).rejects.toBeInstanceOf(CertificateUnavailableError);
    const socket = sockets.socketOf('/e2e/get/certificate');
    expect(socket).toBeDefined();
    await vi.waitFor(() => expect(socket!.destroyed).toBe(true), { timeout: 2_000 });
    expect(chatRequestsOf(server)).toEqual([]);
  });
});

it('the plain text of the conversation never appears in a request to a faulty service', async () => {
  // Belt and braces over every fault at once: one client, one request per fault.
  const texts: string[] = [];
  for (const fault of CERTIFICATE_FAULTS) {
    const server = await faultyServer(fault);
    const before = server.requests.length;
    const text = `${SECRET} (${fault})`;
    texts.push(text);
    const fetchFn = createEncryptedFetch({ errors: 'throw', cacheDir: false, certificateTimeout: 100 });
    await expect(encryptedChat(fetchFn, server.url, { text })).rejects.toBeInstanceOf(ArkE2EEError);
    expect(everythingSent(server, before)).not.toContain(text);
    expect(server.requests.slice(before).map((request) => request.path)).toEqual(['/api/v3/e2e/get/certificate']);
  }
  expect(texts).toHaveLength(CERTIFICATE_FAULTS.length);
});

describe('the certificate fetch does not follow a redirect to another origin (issue 17)', () => {
  let target: MockArkServer;
  let redirector: Server;
  let redirectorUrl: string;
  const asked: string[] = [];

  beforeEach(async () => {
    // The target is a working service: following the redirect would get its certificate.
    target = await startMockArkServer({ apiKey: API_KEY });
    servers.push(target);
    asked.length = 0;
    redirector = createServer((request: IncomingMessage, response) => {
      asked.push(`${request.method} ${request.url}`);
      request.resume();
      response.writeHead(307, { location: `${target.url}/e2e/get/certificate`, 'content-length': '0' });
      response.end();
    });
    await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
    redirectorUrl = `http://127.0.0.1:${(redirector.address() as AddressInfo).port}/api/v3`;
  });
  afterEach(async () => {
    await new Promise((resolve) => redirector.close(resolve));
  });

  const refusedAsRedirect = (error: unknown): void => {
    expect(error).toBeInstanceOf(CertificateUnavailableError);
    expect((error as CertificateUnavailableError).status).toBe(307);
    expect((error as Error).message).toContain(`a redirect to ${target.url}/e2e/get/certificate, which is not followed`);
    expect(target.certificateRequests).toBe(0);
    expect(asked).toEqual(['POST /api/v3/e2e/get/certificate']);
  };

  it('through createEncryptedFetch (fetch follows redirects by default)', async () => {
    const fetchFn = createEncryptedFetch({ errors: 'throw', cacheDir: false });
    refusedAsRedirect(await encryptedChat(fetchFn, redirectorUrl).catch((caught: unknown) => caught));
    expect(chatRequestsOf(target)).toEqual([]);
  });

  it.each([
    ['below', () => new Agent().compose(interceptors.redirect({ maxRedirections: 3 }), arkEncryption({ cacheDir: false }))],
    ['above', () => new Agent().compose(arkEncryption({ cacheDir: false }), interceptors.redirect({ maxRedirections: 3 }))],
  ])("through the undici interceptor, with undici's redirect interceptor composed %s it", async (_where, compose) => {
    const dispatcher = compose();
    try {
      const pending = undiciRequest(`${redirectorUrl}/chat/completions`, {
        dispatcher,
        method: 'POST',
        headers: { authorization: `Bearer ${API_KEY}`, 'x-is-encrypted': 'true', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'mock-model', messages: [{ role: 'user', content: SECRET }] }),
      });
      refusedAsRedirect(await pending.catch((caught: unknown) => caught));
      expect(chatRequestsOf(target)).toEqual([]);
    } finally {
      await dispatcher.close();
    }
  });
});

describe('a certificate answer that never ends (issue 10): at most maxCertificateBytes, then the connection goes', () => {
  it('through createEncryptedFetch: a typed error, and the socket is closed', async () => {
    const server = await faultyServer('oversized');
    const sockets = trackSockets(server);
    const fetchFn = createEncryptedFetch({ cacheDir: false });
    const error = await encryptedChat(fetchFn, server.url).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CertificateUnavailableError);
    const socket = sockets.socketOf('/e2e/get/certificate');
    await vi.waitFor(() => expect(socket!.destroyed).toBe(true), { timeout: 2_000 });
    expect(socket!.bytesWritten).toBeLessThan(8 * 1024 * 1024);
  });

  it('through the undici interceptor: a typed error, and the socket is closed', async () => {
    const server = await faultyServer('oversized');
    const sockets = trackSockets(server);
    const dispatcher = new Agent().compose(arkEncryption({ cacheDir: false, maxCertificateBytes: 4096 }));
    try {
      const error = await undiciRequest(`${server.url}/chat/completions`, {
        dispatcher,
        method: 'POST',
        headers: { authorization: `Bearer ${API_KEY}`, 'x-is-encrypted': 'true', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'mock-model', messages: [{ role: 'user', content: SECRET }] }),
      }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(CertificateUnavailableError);
      expect((error as Error).message).toMatch(/larger than 4096 bytes \(maxCertificateBytes\)/);
      const socket = sockets.socketOf('/e2e/get/certificate');
      await vi.waitFor(() => expect(socket!.destroyed).toBe(true), { timeout: 2_000 });
      expect(chatRequestsOf(server)).toEqual([]);
    } finally {
      await dispatcher.close();
    }
  });

  it('maxCertificateBytes is an option: below a real answer\'s size, a real certificate is refused too', async () => {
    const server = await startMockArkServer({ apiKey: API_KEY });
    servers.push(server);
    const fetchFn = createEncryptedFetch({ cacheDir: false, maxCertificateBytes: 64 });
    await expect(encryptedChat(fetchFn, server.url)).rejects.toThrow(/larger than 64 bytes/);
    expect(chatRequestsOf(server)).toEqual([]);
  });

  it.each([0, -1, 1.5, Number.NaN, '1024'])('maxCertificateBytes %s is refused when the client is made', (value) => {
    expect(() => createEncryptedFetch({ cacheDir: false, maxCertificateBytes: value as number })).toThrow(/maxCertificateBytes must be a positive whole number/);
    expect(() => arkEncryption({ cacheDir: false, maxCertificateBytes: value as number })).toThrow(InvalidOptionError);
  });
});
