/**
 * Issue 7, aborts: the request's AbortSignal during the handshake (the certificate fetch hangs),
 * during the request (the chat endpoint has the request and does not answer) and during the
 * stream. Each rejects promptly with the caller's reason, and the connection it was using is
 * closed (seen from the server), so nothing keeps running or holds a socket.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createEncryptedFetch } from '../../src/index.js';
import { MOCK_MODELS, mockLongModel, startMockArkServer, type MockArkServer } from '../../src/testing/index.js';
import { API_KEY, chatRequestsOf, deltaContents, encryptedChat, trackSockets } from './helpers.js';

const PROMPT_MS = 500;
let server: MockArkServer;
let hanging: MockArkServer;

beforeAll(async () => {
  server = await startMockArkServer({ apiKey: API_KEY });
  hanging = await startMockArkServer({ apiKey: API_KEY, certificateFault: 'hang' });
});
afterAll(async () => {
  await Promise.all([server.close(), hanging.close()]);
});

/** Aborts `controller` with a fresh reason; resolves with how long `pending` took to reject with it. */
async function abortAndTime(controller: AbortController, pending: Promise<unknown>): Promise<number> {
  const reason = new Error('the caller gave up');
  const started = performance.now();
  controller.abort(reason);
  await expect(pending).rejects.toBe(reason);
  return performance.now() - started;
}

describe('an abort', () => {
  it('during the handshake (the certificate fetch hangs): rejects promptly, sends no chat, closes the connection', async () => {
    const sockets = trackSockets(hanging);
    const fetchFn = createEncryptedFetch({ errors: 'throw', cacheDir: false });
    const controller = new AbortController();
    const pending = encryptedChat(fetchFn, hanging.url, { signal: controller.signal });
    await vi.waitFor(() => expect(hanging.certificateRequests).toBe(1));
    expect(await abortAndTime(controller, pending)).toBeLessThan(PROMPT_MS);
    const socket = sockets.socketOf('/e2e/get/certificate')!;
    await vi.waitFor(() => expect(socket.destroyed).toBe(true), { timeout: 2_000 });
    expect(chatRequestsOf(hanging)).toEqual([]);
  });

  it('during the request (the chat endpoint does not answer): rejects promptly and closes the connection', async () => {
    const sockets = trackSockets(server);
    const fetchFn = createEncryptedFetch({ errors: 'throw', cacheDir: false });
    const controller = new AbortController();
    const before = chatRequestsOf(server).length;
    const pending = encryptedChat(fetchFn, server.url, { model: MOCK_MODELS.faultHang, signal: controller.signal });
    await vi.waitFor(() => expect(chatRequestsOf(server).length).toBe(before + 1));
    expect(await abortAndTime(controller, pending)).toBeLessThan(PROMPT_MS);
    const socket = sockets.socketOf('/chat/completions')!;
    await vi.waitFor(() => expect(socket.destroyed).toBe(true), { timeout: 2_000 });
  });

  it.each([
    ['aborting the signal', 'abort'],
    ['cancelling the body', 'cancel'],
  ] as const)('during the stream (%s): the next read settles promptly, the server stops, the connection closes', async (_name, how) => {
    const sockets = trackSockets(server);
    let responseClosed: boolean | undefined;
    const onRequest = (request: IncomingMessage, response: ServerResponse): void => {
      if (!request.url?.endsWith('/chat/completions')) return;
      responseClosed = false;
      response.once('close', () => {
        responseClosed = response.writableFinished ? undefined : true;
      });
    };
    server.server.on('request', onRequest);
    const fetchFn = createEncryptedFetch({ errors: 'throw', cacheDir: false });
    const controller = new AbortController();
    // Long enough that it cannot be over before the abort: 20 M characters.
    const response = await encryptedChat(fetchFn, server.url, {
      model: mockLongModel(20_000_000, 64), stream: true, signal: controller.signal,
    });
    const reader = response.body!.getReader();
    const first = await reader.read();
    expect(first.done).toBe(false);
    expect(deltaContents(new TextDecoder().decode(first.value)).length).toBeGreaterThan(0);
    const started = performance.now();
    if (how === 'abort') {
      const reason = new Error('the caller gave up');
      controller.abort(reason);
      await expect(reader.read()).rejects.toBe(reason);
    } else {
      await reader.cancel(new Error('enough'));
      expect((await reader.read()).done).toBe(true);
    }
    expect(performance.now() - started).toBeLessThan(PROMPT_MS);
    const socket = sockets.socketOf('/chat/completions')!;
    await vi.waitFor(() => expect(socket.destroyed).toBe(true), { timeout: 2_000 });
    // The server's answer was closed unfinished: it stopped writing.
    await vi.waitFor(() => expect(responseClosed).toBe(true), { timeout: 2_000 });
    server.server.off('request', onRequest);
  });
});
