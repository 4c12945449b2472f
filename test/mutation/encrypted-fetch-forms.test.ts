/**
 * createEncryptedFetch with calls in forms the fast path (plainParts) takes and the `Request` path
 * would take differently (issue 16): a GET that carries a body (a Request refuses to be built
 * with one: a TypeError, not the library's refusal), a relative URL, bytes that are not UTF-8.
 * The inner fetch records what would have gone on the wire.
 */
import { describe, expect, it } from 'vitest';
import { UnsupportedRequestError, createEncryptedFetch } from '../../src/index.js';
import { makeCertificate } from '../helpers/make-certificate.js';

const certificate = makeCertificate({ notAfter: new Date(Date.now() + 86_400_000) });
const CHAT = 'https://ark.example.test/api/v3/chat/completions';
const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'the secret question' }] });

function wrapped(errors: 'throw' | 'response') {
  const calls: unknown[] = [];
  const inner = (async (...args: unknown[]) => {
    calls.push(args);
    return new Response('{}');
  }) as typeof fetch;
  const encryptedFetch = createEncryptedFetch({ fetch: inner, certificate: certificate.pem, cacheDir: false, errors, onWarning: () => {} });
  return { encryptedFetch, calls };
}

describe('calls the fast path reads as they are', () => {
  it.each(['GET', 'head'])('a %s that carries a chat body is the library\'s refusal, not a TypeError; nothing is sent', async (method) => {
    const { encryptedFetch, calls } = wrapped('throw');
    const error = await encryptedFetch(CHAT, { method, headers: { 'x-is-encrypted': 'true' }, body }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsupportedRequestError);
    expect(error).toMatchObject({ code: 'ERR_ARK_E2EE_UNSUPPORTED_REQUEST' });
    expect((error as Error).message).toContain(`x-is-encrypted: true is set on ${method.toUpperCase()} /api/v3/chat/completions`);
    expect((error as Error).message).toContain('nothing was sent. Remove the header from this request.');
    expect(calls).toEqual([]);
  });

  it('with errors: "response", that refusal is a 400 answer a client reads (not a thrown TypeError)', async () => {
    const { encryptedFetch, calls } = wrapped('response');
    const response = await encryptedFetch(CHAT, { method: 'GET', headers: { 'x-is-encrypted': 'true' }, body });
    expect(response.status).toBe(400);
    expect(response.headers.get('x-ark-e2ee-error')).toBe('ERR_ARK_E2EE_UNSUPPORTED_REQUEST');
    expect(calls).toEqual([]);
  });

  it('bytes that are not UTF-8 are refused, not repaired; nothing is sent', async () => {
    const { encryptedFetch, calls } = wrapped('throw');
    const bytes = new Uint8Array([...new TextEncoder().encode(body.slice(0, -3)), 0xff, ...new TextEncoder().encode('"}]}')]);
    const error = await encryptedFetch(CHAT, { method: 'POST', headers: { 'x-is-encrypted': 'true' }, body: bytes }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_ARK_E2EE_UNSUPPORTED_REQUEST' });
    expect((error as Error).message).toContain('is not valid UTF-8; it would reach the service changed, so nothing was sent');
    expect(calls).toEqual([]);
  });

  it('a relative URL (no page to resolve it against on Node) is refused naming that URL; nothing is sent', async () => {
    const { encryptedFetch, calls } = wrapped('response');
    const error = await encryptedFetch('/api/v3/chat/completions', { method: 'POST', headers: { 'x-is-encrypted': 'true' }, body }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toContain('/api/v3/chat/completions');
    expect(calls).toEqual([]);
  });
});
