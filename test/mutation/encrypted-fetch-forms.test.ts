/**
 * createEncryptedFetch with calls in forms the fast path (plainParts) takes and the `Request` path
 * would take differently (issue 16): a GET that carries a body (a Request refuses to be built
 * with one: a TypeError, not the library's refusal), a relative URL, bytes that are not UTF-8.
 * The inner fetch records what would have gone on the wire.
 */
import { describe, expect, it, vi } from 'vitest';
import { UnsupportedRequestError, createEncryptedFetch } from '../../src/index.js';
import { makeCertificate } from '../helpers/make-certificate.js';

const certificate = makeCertificate({ notAfter: new Date(Date.now() + 86_400_000) });
const CHAT = 'https://ark.example.test/api/v3/chat/completions';
const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'the secret question' }] });

function wrapped(errors: 'throw' | 'response' | undefined, extra: Parameters<typeof createEncryptedFetch>[0] = {}) {
  const calls: unknown[][] = [];
  const inner = (async (...args: unknown[]) => {
    calls.push(args);
    return new Response('{}');
  }) as typeof fetch;
  const encryptedFetch = createEncryptedFetch({ fetch: inner, certificate: certificate.pem, cacheDir: false, errors, onWarning: () => {}, ...extra });
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

describe('calls in forms the fast path leaves to Request', () => {
  it.each([
    ['a Blob', () => new Blob([body])],
    ['a ReadableStream', () => new Blob([body]).stream()],
  ])('a body given as %s is read whole and encrypted', async (_name, make) => {
    const { encryptedFetch, calls } = wrapped('throw');
    await encryptedFetch(CHAT, { method: 'POST', headers: { 'x-is-encrypted': 'true' }, body: make(), duplex: 'half' } as RequestInit);
    const sent = calls[0]![1] as RequestInit;
    expect(typeof sent.body).toBe('string');
    expect(String(sent.body)).not.toContain('the secret question');
    expect((JSON.parse(String(sent.body)) as { model: string }).model).toBe('m');
  });

  it('a null input is not read for headers: it goes to fetch untouched (fetch decides)', async () => {
    const { encryptedFetch, calls } = wrapped('throw');
    await encryptedFetch(null as unknown as string);
    expect(calls).toEqual([[null, undefined]]);
  });
});

describe('what the options change', () => {
  it('without a fetch option, globalThis.fetch is called (at call time)', async () => {
    const global = vi.fn(async () => new Response('passed'));
    vi.stubGlobal('fetch', global);
    try {
      const encryptedFetch = createEncryptedFetch({ certificate: certificate.pem, cacheDir: false });
      const response = await encryptedFetch('https://example.test/other', { method: 'GET' });
      expect(await response.text()).toBe('passed');
      expect(global).toHaveBeenCalledWith('https://example.test/other', { method: 'GET' });
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('without an errors option, a refusal is an answer (400), not a throw', async () => {
    const { encryptedFetch } = wrapped(undefined);
    const response = await encryptedFetch(CHAT, { method: 'PUT', headers: { 'x-is-encrypted': 'true' }, body });
    expect(response.status).toBe(400);
    expect(response.headers.get('x-ark-e2ee-error')).toBe('ERR_ARK_E2EE_UNSUPPORTED_REQUEST');
  });

  it('maxCertificateBytes bounds the certificate answer read through the wrapped fetch', async () => {
    const calls: string[] = [];
    const encryptedFetch = createEncryptedFetch({
      fetch: (async (input: RequestInfo | URL) => {
        calls.push(String(input));
        return new Response('x'.repeat(64), { status: 200, headers: { 'content-length': '64' } });
      }) as typeof fetch,
      cacheDir: false, errors: 'throw', maxCertificateBytes: 16, env: {},
    });
    const error = await encryptedFetch(CHAT, { method: 'POST', headers: { 'x-is-encrypted': 'true', authorization: 'Bearer k' }, body }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_ARK_E2EE_CERTIFICATE_UNAVAILABLE' });
    expect((error as Error).message).toContain('is larger than 16 bytes (maxCertificateBytes)');
    expect(calls.some((url) => url.endsWith('/chat/completions'))).toBe(false);
  });

  it('the caller\'s signal, from init or from a Request, is the one the encrypted request carries', async () => {
    const { encryptedFetch, calls } = wrapped('throw');
    const controller = new AbortController();
    await encryptedFetch(CHAT, { method: 'POST', headers: { 'x-is-encrypted': 'true' }, body, signal: controller.signal });
    expect((calls[0]![1] as RequestInit).signal).toBe(controller.signal);
    const request = new Request(CHAT, { method: 'POST', headers: { 'x-is-encrypted': 'true' }, body });
    await encryptedFetch(request);
    expect((calls[1]![1] as RequestInit).signal).toBe(request.signal);
  });
});

describe('an input that is not a URL, string or Request', () => {
  it('none, or null, is handed to fetch as it is (fetch gives its own answer or error), not read for headers', async () => {
    const { encryptedFetch, calls } = wrapped('throw');
    await encryptedFetch(undefined as never);
    await encryptedFetch(null as never);
    expect(calls).toEqual([[undefined, undefined], [null, undefined]]);
  });
});

describe('a plain call is read without building a Request (no copy of its body)', () => {
  /** How many Requests the wrapper builds for one call, with the global Request counting them. */
  async function requestsBuiltFor(input: () => RequestInfo | URL, init: RequestInit | undefined): Promise<number> {
    let built = 0;
    class CountingRequest extends Request {
      constructor(...args: ConstructorParameters<typeof Request>) {
        super(...args);
        built++;
      }
    }
    vi.stubGlobal('Request', CountingRequest);
    try {
      const callInput = input();
      built = 0; // the test's own Request, if it made one, is not the wrapper's
      const { encryptedFetch } = wrapped('response');
      await (await encryptedFetch(callInput, init)).arrayBuffer();
      return built;
    } finally {
      vi.unstubAllGlobals();
    }
  }
  const headers = { 'x-is-encrypted': 'true' };

  it('a string or URL with a string, Uint8Array, null or no body: none built', async () => {
    expect(await requestsBuiltFor(() => CHAT, { method: 'POST', headers, body })).toBe(0);
    expect(await requestsBuiltFor(() => new URL(CHAT), { method: 'POST', headers, body: new TextEncoder().encode(body) })).toBe(0);
    expect(await requestsBuiltFor(() => CHAT, { method: 'POST', headers, body: null })).toBe(0);
    expect(await requestsBuiltFor(() => CHAT, { method: 'POST', headers })).toBe(0);
  });

  it('a Request, or a body of another kind (Blob, stream): one is built to read it', async () => {
    expect(await requestsBuiltFor(() => CHAT, { method: 'POST', headers, body: new Blob([body]) })).toBe(1);
    expect(await requestsBuiltFor(() => new Request(CHAT, { method: 'POST', headers, body }), undefined)).toBe(1);
  });
});
