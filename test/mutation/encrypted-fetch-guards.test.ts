/**
 * The checks of createEncryptedFetch and ArkEncryptor that keep plain text from leaving and keep
 * error answers as the service sent them, each with a test that fails without it (issue 16,
 * found by mutation testing). The inner fetch is a recording double: what it receives is what
 * would have gone on the wire.
 */
import { describe, expect, it } from 'vitest';
import { UnsupportedContentError, UnsupportedRequestError, createEncryptedFetch } from '../../src/index.js';
import { makeCertificate } from '../helpers/make-certificate.js';
import { deriveSession, serverDecrypt, serverEncrypt } from '../helpers/server-crypto.js';

const certificate = makeCertificate({ notAfter: new Date(Date.now() + 86_400_000) });
const CHAT = 'https://ark.example.test/api/v3/chat/completions';
const SECRET = 'the secret question';

interface Sent {
  url: string;
  init: RequestInit | undefined;
}

/** A fetch that records every call and answers with `answer(call)`. */
function recordingFetch(answer: (sent: Sent) => Response = encryptedAnswer): { fetch: typeof fetch; calls: Sent[] } {
  const calls: Sent[] = [];
  const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const sent = { url: String(input instanceof Request ? input.url : input), init };
    calls.push(sent);
    return answer(sent);
  }) as typeof globalThis.fetch;
  return { fetch, calls };
}

/** The service's answer to an encrypted request: its content sealed to the request's session. */
function encryptedAnswer(sent: Sent): Response {
  const headers = new Headers(sent.init?.headers);
  if (!headers.has('x-session-token')) return new Response('not encrypted', { status: 200 });
  const { key, nonce } = deriveSession(certificate.privateKey, headers.get('x-session-token')!);
  const body = JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: serverEncrypt(key, nonce, 'the answer') } }] });
  return new Response(body, { status: 200, headers: { 'content-type': 'application/json', 'content-length': String(body.length) } });
}

function wrapped(answer?: (sent: Sent) => Response, errors: 'throw' | 'response' = 'throw') {
  const inner = recordingFetch(answer);
  const encryptedFetch = createEncryptedFetch({ fetch: inner.fetch, certificate: certificate.pem, cacheDir: false, errors, onWarning: () => {} });
  return { encryptedFetch, calls: inner.calls };
}

const chatBody = (extra: object = {}): string => JSON.stringify({ model: 'm', messages: [{ role: 'user', content: SECRET }], ...extra });

/** The message content the double received, decrypted as the service would. */
function contentAsServiceReadsIt(sent: Sent): string {
  const headers = new Headers(sent.init?.headers);
  const { key, nonce } = deriveSession(certificate.privateKey, headers.get('x-session-token')!);
  const body = JSON.parse(String(sent.init?.body)) as { messages: { content: string }[] };
  return serverDecrypt(key, nonce, body.messages[0]!.content);
}

describe('encryptRequest refuses what the protocol does not cover, and sends nothing', () => {
  it.each(['PUT', 'PATCH', 'DELETE'])('a %s to …/chat/completions with x-is-encrypted: true', async (method) => {
    const { encryptedFetch, calls } = wrapped();
    const error = await encryptedFetch(CHAT, { method, headers: { 'x-is-encrypted': 'true' }, body: chatBody() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsupportedRequestError);
    expect(error).toMatchObject({ code: 'ERR_ARK_E2EE_UNSUPPORTED_REQUEST' });
    expect((error as Error).message).toContain(`x-is-encrypted: true is set on ${method} /api/v3/chat/completions`);
    expect((error as Error).message).toContain('nothing was sent. Remove the header from this request.');
    expect(calls).toEqual([]);
  });

  it('a GET without a body is refused the same way (named in capitals, whatever the caller wrote)', async () => {
    const { encryptedFetch, calls } = wrapped();
    const error = await encryptedFetch(CHAT, { method: 'get', headers: { 'x-is-encrypted': 'true' } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_ARK_E2EE_UNSUPPORTED_REQUEST' });
    expect((error as Error).message).toContain('is set on GET /api/v3/chat/completions');
    expect(calls).toEqual([]);
  });

  it('a POST in lower case is a POST: encrypted, and sent as POST', async () => {
    const { encryptedFetch, calls } = wrapped();
    const response = await encryptedFetch(CHAT, { method: 'post', headers: { 'x-is-encrypted': 'true' }, body: chatBody() });
    expect(response.status).toBe(200);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.init?.method).toBe('POST');
    expect(String(calls[0]!.init?.body)).not.toContain(SECRET);
    expect(contentAsServiceReadsIt(calls[0]!)).toBe(SECRET);
  });

  it('with errors: "response", the refusal is a 400 answer naming the code; nothing is sent', async () => {
    const { encryptedFetch, calls } = wrapped(undefined, 'response');
    const response = await encryptedFetch(CHAT, { method: 'PUT', headers: { 'x-is-encrypted': 'true' }, body: chatBody() });
    expect(response.status).toBe(400);
    expect(response.headers.get('x-ark-e2ee-error')).toBe('ERR_ARK_E2EE_UNSUPPORTED_REQUEST');
    expect(calls).toEqual([]);
  });

  it.each([
    ['no model', { messages: [{ role: 'user', content: SECRET }] }],
    ['a number as model', { model: 7, messages: [{ role: 'user', content: SECRET }] }],
    ['null as model', { model: null, messages: [{ role: 'user', content: SECRET }] }],
  ])('a body with %s is refused before a certificate is asked for', async (_name, body) => {
    const { encryptedFetch, calls } = wrapped();
    const error = await encryptedFetch(CHAT, { method: 'POST', headers: { 'x-is-encrypted': 'true' }, body: JSON.stringify(body) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsupportedRequestError);
    expect((error as Error).message).toMatch(/model/);
    expect(calls).toEqual([]);
  });

  it('a bot-API path is refused rather than sent in plain text', async () => {
    const { encryptedFetch, calls } = wrapped();
    const error = await encryptedFetch('https://ark.example.test/api/v3/bots/chat/completions', {
      method: 'POST', headers: { 'x-is-encrypted': 'true' }, body: chatBody() }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_ARK_E2EE_UNSUPPORTED_REQUEST' });
    expect(calls).toEqual([]);
  });

  it('an image URL whose scheme is not at the start is refused, with the field path', async () => {
    const { encryptedFetch, calls } = wrapped();
    const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: [
      { type: 'text', text: SECRET }, { type: 'image_url', image_url: { url: 'x/http://example.com/a.png' } }] }] });
    const error = await encryptedFetch(CHAT, { method: 'POST', headers: { 'x-is-encrypted': 'true' }, body }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsupportedContentError);
    expect(error).toMatchObject({ code: 'ERR_ARK_E2EE_UNSUPPORTED_CONTENT', messageIndex: 0, partIndex: 1 });
    expect((error as Error).message).toContain('messages[0].content[1] is an image URL with scheme ""');
    expect(calls).toEqual([]);
  });
});

describe('the switch is read as the service reads it', () => {
  it.each([' true', 'true ', '\ttrue', ' TRUE ', 'true, true', 'True,true '])('x-is-encrypted: %j in a plain object encrypts', async (value) => {
    const { encryptedFetch, calls } = wrapped();
    const response = await encryptedFetch(CHAT, { method: 'POST', headers: { 'x-is-encrypted': value }, body: chatBody() });
    expect(response.status).toBe(200);
    expect(String(calls[0]!.init?.body)).not.toContain(SECRET);
    expect(contentAsServiceReadsIt(calls[0]!)).toBe(SECRET);
    expect(new Headers(calls[0]!.init?.headers).get('x-is-encrypted')).toBe('true');
  });

  it.each([' false', 'FALSE ', 'false, false'])('x-is-encrypted: %j passes through as it is', async (value) => {
    const { encryptedFetch, calls } = wrapped();
    const init = { method: 'POST', headers: { 'x-is-encrypted': value }, body: chatBody() };
    await encryptedFetch(CHAT, init);
    expect(calls).toEqual([{ url: CHAT, init }]);
  });

  it.each(['true, false', '', 'yes', 'true;'])('x-is-encrypted: %j is refused, and nothing is sent', async (value) => {
    const { encryptedFetch, calls } = wrapped();
    const error = await encryptedFetch(CHAT, { method: 'POST', headers: { 'x-is-encrypted': value }, body: chatBody() }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_ARK_E2EE_UNSUPPORTED_REQUEST' });
    expect((error as Error).message).toContain(`x-is-encrypted: ${JSON.stringify(value)} is neither "true" nor "false"`);
    expect((error as Error).message).toContain('nothing was sent. Set the header once, to true or false');
    expect(calls).toEqual([]);
  });

  it('a call with no init at all, and one with no headers, pass through untouched', async () => {
    const { encryptedFetch, calls } = wrapped();
    await encryptedFetch(CHAT);
    const init = { method: 'POST', body: chatBody() };
    await encryptedFetch(CHAT, init);
    expect(calls).toEqual([{ url: CHAT, init: undefined }, { url: CHAT, init }]);
  });

  it('a Request carrying the switch is encrypted; init headers, when given, are the ones read', async () => {
    const { encryptedFetch, calls } = wrapped();
    await encryptedFetch(new Request(CHAT, { method: 'POST', headers: { 'x-is-encrypted': 'true' }, body: chatBody() }));
    expect(contentAsServiceReadsIt(calls[0]!)).toBe(SECRET);
    // fetch sends the init's headers, not the Request's: so the switch is read there.
    const request = new Request(CHAT, { method: 'POST', headers: { 'x-is-encrypted': 'true' }, body: chatBody() });
    const init = { headers: { 'x-other': '1' } };
    await encryptedFetch(request, init);
    expect(calls[1]).toEqual({ url: CHAT, init });
  });
});

describe('what an encrypted request carries', () => {
  it('the session headers, the caller\'s other headers, no stale content-length, redirects not followed', async () => {
    const { encryptedFetch, calls } = wrapped();
    await encryptedFetch(CHAT, {
      method: 'POST',
      headers: { 'x-is-encrypted': 'true', authorization: 'Bearer k', 'content-length': '3', 'x-extra': 'kept' },
      body: chatBody(),
    });
    const sent = calls[0]!;
    const headers = new Headers(sent.init?.headers);
    expect(headers.get('authorization')).toBe('Bearer k');
    expect(headers.get('x-extra')).toBe('kept');
    expect(headers.get('content-length')).toBeNull();
    expect(headers.get('x-session-token')).toMatch(/^[A-Za-z0-9+/]{86}[A-Za-z0-9+/=]{2}$/);
    expect(JSON.parse(headers.get('x-encrypt-info')!)).toEqual({ ExpireTime: expect.any(Number) as number });
    expect(sent.init?.redirect).toBe('manual');
    expect(sent.url).toBe(CHAT);
  });

  it('redirect: "error" is kept, any other choice becomes "manual"', async () => {
    const { encryptedFetch, calls } = wrapped();
    const headers = { 'x-is-encrypted': 'true' };
    await encryptedFetch(CHAT, { method: 'POST', headers, body: chatBody(), redirect: 'error' });
    await encryptedFetch(CHAT, { method: 'POST', headers, body: chatBody(), redirect: 'follow' });
    await encryptedFetch(new Request(CHAT, { method: 'POST', headers, body: chatBody(), redirect: 'error' }));
    expect(calls.map((c) => c.init?.redirect)).toEqual(['error', 'manual', 'error']);
  });
});

describe('answers: only a 2xx with a body is decrypted', () => {
  const send = (answer: (sent: Sent) => Response, errors: 'throw' | 'response' = 'response') => {
    const { encryptedFetch } = wrapped(answer, errors);
    return encryptedFetch(CHAT, { method: 'POST', headers: { 'x-is-encrypted': 'true' }, body: chatBody() });
  };

  it.each([400, 401, 429, 500, 503])('a non-JSON %i error page keeps its status and its text', async (status) => {
    const page = '<html><body>upstream unavailable</body></html>';
    for (const errors of ['throw', 'response'] as const) {
      const response = await send(() => new Response(page, { status, headers: { 'content-type': 'text/html', 'content-length': String(page.length) } }), errors);
      expect(response.status).toBe(status);
      expect(response.headers.get('x-ark-e2ee-error')).toBeNull();
      expect(response.headers.get('content-length')).toBe(String(page.length));
      expect(await response.text()).toBe(page);
    }
  });

  it('a JSON error answer is passed on undecrypted, byte for byte', async () => {
    const error = JSON.stringify({ error: { code: 'InvalidParameter', message: 'messages[0].content: plain words' } });
    const response = await send(() => new Response(error, { status: 400, statusText: 'Bad Request', headers: { 'content-type': 'application/json' } }));
    expect(response.status).toBe(400);
    expect(response.statusText).toBe('Bad Request');
    expect(await response.text()).toBe(error);
  });

  it('a 2xx without a body is given back as it is', async () => {
    const answer = new Response(null, { status: 204 });
    const response = await send(() => answer);
    expect(response).toBe(answer);
  });

  it('a 2xx JSON answer is decrypted, keeps status, status text, headers and url, loses its stale length', async () => {
    const response = await send((sent) => {
      const out = encryptedAnswer(sent);
      const answer = new Response(out.body, { status: 201, statusText: 'Made', headers: { 'content-type': 'application/json', 'content-length': '9999', 'content-encoding': 'gzip', 'x-request-id': 'r1' } });
      Object.defineProperty(answer, 'url', { value: CHAT });
      return answer;
    });
    expect(response.status).toBe(201);
    expect(response.statusText).toBe('Made');
    expect(response.url).toBe(CHAT);
    expect(response.headers.get('x-request-id')).toBe('r1');
    expect(response.headers.get('content-length')).toBeNull();
    expect(response.headers.get('content-encoding')).toBeNull();
    expect(((await response.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBe('the answer');
  });

  it('a 2xx answer that is not JSON is a decryption failure (502 with the code), never passed on', async () => {
    const response = await send(() => new Response('plain words', { status: 200, headers: { 'content-type': 'text/plain' } }));
    expect(response.status).toBe(502);
    expect(response.headers.get('x-ark-e2ee-error')).toBe('ERR_ARK_E2EE_DECRYPTION_FAILED');
    expect(await response.text()).not.toContain('plain words');
    const thrown = await send(() => new Response('plain words', { status: 200 }), 'throw').catch((e: unknown) => e);
    expect(thrown).toMatchObject({ code: 'ERR_ARK_E2EE_DECRYPTION_FAILED' });
    expect((thrown as Error).message).toContain('is not JSON, so it cannot be checked');
  });

  it('an event stream, named in any letter case, is decrypted as a stream', async () => {
    const response = await send((sent) => {
      const headers = new Headers(sent.init?.headers);
      const { key, nonce } = deriveSession(certificate.privateKey, headers.get('x-session-token')!);
      const chunk = JSON.stringify({ choices: [{ index: 0, delta: { content: serverEncrypt(key, nonce, 'streamed') } }] });
      return new Response(`data: ${chunk}\n\ndata: [DONE]\n\n`, { status: 200, headers: { 'content-type': 'Text/Event-Stream; charset=utf-8' } });
    });
    const text = await response.text();
    expect(text).toContain('"content":"streamed"');
    expect(text).toContain('data: [DONE]');
  });
});

describe('calls given in less usual forms', () => {
  it('no method is a GET, and is refused as one', async () => {
    const { encryptedFetch, calls } = wrapped();
    const error = await encryptedFetch(CHAT, { headers: { 'x-is-encrypted': 'true' } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_ARK_E2EE_UNSUPPORTED_REQUEST' });
    expect((error as Error).message).toContain('x-is-encrypted: true is set on GET /api/v3/chat/completions');
    expect(calls).toEqual([]);
  });

  it('an object that names the URL and carries headers, with no init, is refused with a typed error', async () => {
    const { encryptedFetch, calls } = wrapped();
    const input = { toString: () => CHAT, headers: { 'x-is-encrypted': 'true' } } as unknown as string;
    const error = await encryptedFetch(input).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_ARK_E2EE_UNSUPPORTED_REQUEST' });
    expect((error as Error).message).toContain('is set on GET /api/v3/chat/completions');
    expect(calls).toEqual([]);
  });

  it('a POST without a body is refused: the body must be a chat completion', async () => {
    const { encryptedFetch, calls } = wrapped();
    const error = await encryptedFetch(CHAT, { method: 'POST', headers: { 'x-is-encrypted': 'true' } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_ARK_E2EE_UNSUPPORTED_REQUEST' });
    expect((error as Error).message).toContain('must have a JSON chat completion body with a string "model"');
    expect(calls).toEqual([]);
  });
});
