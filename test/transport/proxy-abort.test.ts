/**
 * Aborts through the encrypting proxy: a client that disconnects, mid-stream or before the answer
 * begins, must take the upstream request down with it (seen from the mock server: its answer is
 * closed before it finished), encrypted or not. The certificate fetch is shared by every request
 * for the same model (certificates/source.ts): a client that leaves aborts it only when no other
 * request still waits for it.
 *
 * The upstream fetch must be handed the proxy's own per-request signal: a signal copied into a
 * Request follows the original only while that Request lives, so each stream test first forces a
 * garbage collection, to catch a copy that was let go.
 */
import { request as httpRequest, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CERTIFICATE_PATH } from '../../src/protocol/constants.js';
import { MOCK_MODELS, mockLongModel, startMockArkServer, type MockArkServer } from '../../src/testing/index.js';
import { startEncryptingProxy, type EncryptingProxy, type EncryptingProxyOptions, type ProxyLogEntry } from '../../src/transport/proxy.js';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

const API_KEY = 'ark-proxy-abort-key';
let server: MockArkServer;
let hanging: MockArkServer;
const started: EncryptingProxy[] = [];

beforeAll(async () => {
  server = await startMockArkServer({ apiKey: API_KEY });
  hanging = await startMockArkServer({ apiKey: API_KEY, certificateFault: 'hang' });
});
afterAll(async () => {
  await Promise.all(started.map((p) => p.close()));
  await Promise.all([server.close(), hanging.close()]);
});

async function startProxy(options: Partial<EncryptingProxyOptions> & { upstream: string }): Promise<{ proxy: EncryptingProxy; logs: ProxyLogEntry[] }> {
  const logs: ProxyLogEntry[] = [];
  const proxy = await startEncryptingProxy({ cacheDir: false, onRequest: (entry) => logs.push(entry), ...options });
  started.push(proxy);
  return { proxy, logs };
}

/** The paths of the requests `mock` stopped answering before the answer was complete. */
function cutAnswers(mock: MockArkServer): string[] {
  const cut: string[] = [];
  mock.server.on('request', (request: IncomingMessage, response: ServerResponse) =>
    response.on('close', () => void (response.writableFinished || cut.push(request.url ?? ''))));
  return cut;
}

/** A chat POST through the proxy over its own connection, which the test destroys to disconnect. */
function chat(base: string, model: string, encrypted: boolean): { request: ClientRequest; answer: Promise<IncomingMessage> } {
  const body = JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'a question that is aborted' }] });
  const request = httpRequest(`${base}/chat/completions`, {
    method: 'POST',
    agent: false,
    headers: {
      authorization: `Bearer ${API_KEY}`,
      'content-type': 'application/json',
      ...(encrypted ? { 'x-is-encrypted': 'true' } : {}),
    },
  });
  const answer = new Promise<IncomingMessage>((resolve, reject) => {
    request.on('response', resolve);
    request.on('error', reject);
  });
  answer.catch(() => undefined); // a destroyed request rejects it; the tests look at the server
  request.end(body);
  return { request, answer };
}

const chatsOf = (mock: MockArkServer) => mock.requests.filter((r) => r.path.endsWith('/chat/completions'));
const encryptions = [['encrypted', true], ['plain', false]] as const;

describe('proxy: a client that disconnects', () => {
  it.each(encryptions)('mid-stream (%s): the upstream answer is cut, after a garbage collection', async (_name, encrypted) => {
    const cut = cutAnswers(server);
    const { proxy, logs } = await startProxy({ upstream: server.url });
    const { request, answer } = chat(proxy.url, mockLongModel(20_000_000, 16), encrypted);
    const response = await answer;
    expect(response.statusCode).toBe(200);
    await new Promise((resolve) => response.once('data', resolve));
    collectGarbage();
    await new Promise((resolve) => setImmediate(resolve));
    collectGarbage();
    request.destroy();
    await vi.waitFor(() => expect(cut).toEqual(['/api/v3/chat/completions']), { timeout: 10_000 });
    await vi.waitFor(() => expect(logs).toHaveLength(1));
    expect(logs[0]).toMatchObject({ sent: encrypted ? 'encrypted' : 'plain', status: 200 });
  });

  it.each(encryptions)('before the answer begins (%s): the upstream request is aborted', async (_name, encrypted) => {
    const cut = cutAnswers(server);
    const { proxy, logs } = await startProxy({ upstream: server.url });
    const before = chatsOf(server).length;
    const { request } = chat(proxy.url, MOCK_MODELS.faultHang, encrypted);
    await vi.waitFor(() => expect(chatsOf(server)).toHaveLength(before + 1));
    collectGarbage();
    request.destroy();
    await vi.waitFor(() => expect(cut).toEqual(['/api/v3/chat/completions']), { timeout: 10_000 });
    await vi.waitFor(() => expect(logs).toHaveLength(1));
    expect(logs[0]).toMatchObject({ status: 0, encrypted });
  });

  it('while the certificate is fetched, the only one waiting: the certificate request is aborted, no chat goes up', async () => {
    const cut = cutAnswers(hanging);
    const { proxy, logs } = await startProxy({ upstream: hanging.url });
    const { request } = chat(proxy.url, 'mock-model', true);
    await vi.waitFor(() => expect(hanging.certificateRequests).toBe(1));
    request.destroy();
    await vi.waitFor(() => expect(cut).toEqual([`/api/v3${CERTIFICATE_PATH}`]), { timeout: 10_000 });
    await vi.waitFor(() => expect(logs).toHaveLength(1));
    expect(logs[0]).toMatchObject({ status: 0, encrypted: true, sent: 'nothing' });
    expect(chatsOf(hanging)).toEqual([]);
  });
});

describe('proxy: the certificate fetch shared by two clients', () => {
  /** A fetch that holds every certificate request until `release()`, keeping each one's signal. */
  function gatedCertificates(): { fetch: typeof fetch; signals: AbortSignal[]; release: () => void } {
    const signals: AbortSignal[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const gated: typeof fetch = async (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      if (url.endsWith(CERTIFICATE_PATH)) {
        const signal = init?.signal ?? new AbortController().signal;
        signals.push(signal);
        await new Promise<void>((resolve, reject) => {
          void gate.then(resolve);
          signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        });
      }
      return globalThis.fetch(input, init);
    };
    return { fetch: gated, signals, release };
  }

  it('one leaves: the fetch goes on and the other gets its answer', async () => {
    const gated = gatedCertificates();
    const { proxy, logs } = await startProxy({ upstream: server.url, fetch: gated.fetch });
    const leaving = chat(proxy.url, 'mock-model', true);
    const staying = chat(proxy.url, 'mock-model', true);
    await vi.waitFor(() => expect(gated.signals).toHaveLength(1));
    await new Promise((resolve) => setTimeout(resolve, 50)); // both are waiting for it now
    leaving.request.destroy();
    await vi.waitFor(() => expect(logs).toHaveLength(1));
    expect(logs[0]).toMatchObject({ status: 0, sent: 'nothing' });
    expect(gated.signals[0]!.aborted).toBe(false);
    gated.release();
    const response = await staying.answer;
    expect(response.statusCode).toBe(200);
    let text = '';
    for await (const chunk of response) text += String(chunk);
    expect(text).toContain('data: [DONE]');
    expect(gated.signals).toHaveLength(1);
  });

  it('both leave: the certificate fetch is aborted', async () => {
    const gated = gatedCertificates();
    const { proxy, logs } = await startProxy({ upstream: server.url, fetch: gated.fetch });
    const first = chat(proxy.url, 'mock-model', true);
    const second = chat(proxy.url, 'mock-model', true);
    await vi.waitFor(() => expect(gated.signals).toHaveLength(1));
    await new Promise((resolve) => setTimeout(resolve, 50));
    first.request.destroy();
    await vi.waitFor(() => expect(logs).toHaveLength(1));
    expect(gated.signals[0]!.aborted).toBe(false);
    second.request.destroy();
    await vi.waitFor(() => expect(gated.signals[0]!.aborted).toBe(true));
    await vi.waitFor(() => expect(logs).toHaveLength(2));
    expect(logs.map((entry) => entry.sent)).toEqual(['nothing', 'nothing']);
  });
});
