/**
 * createEncryptedFetch called directly, as plain `fetch` would be: every input form fetch
 * accepts, pass-through of everything else byte for byte, refusals that send nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnsupportedRequestError, createEncryptedFetch } from '../../src/index.js';
import { startMockArkServer, type MockArkServer } from '../../src/testing/index.js';
import { MULTI_TURN, SINGLE_TURN, expectedAnswer, secretTexts } from '../interop/seed-scenarios.js';

const API_KEY = 'ark-fetch-key';
let server: MockArkServer;
let encryptedFetch: typeof fetch;

beforeAll(async () => {
  server = await startMockArkServer({ apiKey: API_KEY });
  encryptedFetch = createEncryptedFetch({ errors: 'throw', cacheDir: false });
});
afterAll(() => server.close());

const chatUrl = (): string => `${server.url}/chat/completions`;
const body = (messages: unknown, extra: object = {}): string => JSON.stringify({ model: 'mock-model', messages, ...extra });
const auth = `Bearer ${API_KEY}`;

function lastChat() {
  return server.requests.filter((r) => r.path.endsWith('/chat/completions')).at(-1)!;
}

async function answerOf(response: Response): Promise<string> {
  expect(response.status).toBe(200);
  const json = (await response.json()) as { choices: { message: { content: string } }[] };
  return json.choices[0]!.message.content;
}

describe('createEncryptedFetch: every form of fetch input', () => {
  const forms: [string, () => Promise<Response>][] = [
    ['URL string, Headers object', () =>
      encryptedFetch(chatUrl(), { method: 'POST', headers: new Headers({ authorization: auth, 'X-Is-Encrypted': 'true', 'content-type': 'application/json' }), body: body(SINGLE_TURN) })],
    ['URL object, record headers', () =>
      encryptedFetch(new URL(chatUrl()), { method: 'POST', headers: { Authorization: auth, 'x-is-encrypted': 'TRUE' }, body: body(SINGLE_TURN) })],
    ['header pairs, bytes body', () =>
      encryptedFetch(chatUrl(), { method: 'POST', headers: [['authorization', auth], ['x-is-encrypted', 'true']], body: new TextEncoder().encode(body(SINGLE_TURN)) })],
    ['Request with its own headers and body', () =>
      encryptedFetch(new Request(chatUrl(), { method: 'POST', headers: { authorization: auth, 'x-is-encrypted': 'true' }, body: body(SINGLE_TURN) }))],
    ['Request body as a ReadableStream', () =>
      encryptedFetch(chatUrl(), {
        method: 'POST',
        headers: { authorization: auth, 'x-is-encrypted': 'true' },
        body: new Blob([body(SINGLE_TURN)]).stream(),
        duplex: 'half',
      } as RequestInit)],
  ];
  it.each(forms)('%s', async (_name, send) => {
    const before = server.requests.length;
    expect(await answerOf(await send())).toBe(expectedAnswer(SINGLE_TURN));
    const sent = lastChat();
    expect(server.requests.length).toBeGreaterThan(before);
    for (const text of secretTexts(SINGLE_TURN)) expect(sent.body).not.toContain(text);
    expect(sent.headers['x-encrypt-info']).toMatch(/^\{"ExpireTime":\d+\}$/);
  });

  it('a bytes body is read when fetch is called: changing it afterwards changes nothing sent', async () => {
    const bytes = new TextEncoder().encode(body(SINGLE_TURN));
    const pending = encryptedFetch(chatUrl(), { method: 'POST', headers: { authorization: auth, 'x-is-encrypted': 'true' }, body: bytes });
    bytes.fill(0x20);
    expect(await answerOf(await pending)).toBe(expectedAnswer(SINGLE_TURN));
  });

  it('the JSON answer keeps its headers and gets a right content-length', async () => {
    const response = await encryptedFetch(chatUrl(), { method: 'POST', headers: { authorization: auth, 'x-is-encrypted': 'true' }, body: body(MULTI_TURN) });
    const text = await response.clone().text();
    expect(response.headers.get('x-request-id')).toBeTruthy();
    expect(response.headers.get('content-type')).toContain('application/json');
    expect(response.headers.get('content-length')).toBeNull();
    expect(JSON.parse(text).choices[0].message.content).toBe(expectedAnswer(MULTI_TURN));
    expect(response.url).toBe(chatUrl());
  });

  it('batch chat completions are encrypted too', async () => {
    const response = await encryptedFetch(`${server.url}/batch/chat/completions`, {
      method: 'POST', headers: { authorization: auth, 'x-is-encrypted': 'true' }, body: body(SINGLE_TURN) });
    expect(await answerOf(response)).toBe(expectedAnswer(SINGLE_TURN));
    const sent = server.requests.at(-1)!;
    expect(sent.path).toContain('/batch/chat/completions');
    expect(sent.body).not.toContain(SINGLE_TURN[1]!.content);
  });

  it('a streamed answer is decrypted as it flows', async () => {
    const response = await encryptedFetch(chatUrl(), {
      method: 'POST', headers: { authorization: auth, 'x-is-encrypted': 'true' }, body: body(SINGLE_TURN, { stream: true }) });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = response.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toMatch(/^data: /);
    await reader.cancel();
  });
});

describe('createEncryptedFetch: pass-through and refusals', () => {
  it('requests without the header pass through byte for byte', async () => {
    const raw = `{"model":"mock-model",  "messages":${JSON.stringify(SINGLE_TURN)}}`;
    const response = await encryptedFetch(chatUrl(), { method: 'POST', headers: { authorization: auth }, body: raw });
    expect(await answerOf(response)).toBe(expectedAnswer(SINGLE_TURN));
    expect(lastChat().body).toBe(raw);
    expect(lastChat().headers['x-session-token']).toBeUndefined();
  });

  it('x-is-encrypted: false is not encryption', async () => {
    const raw = body(SINGLE_TURN);
    await encryptedFetch(chatUrl(), { method: 'POST', headers: { authorization: auth, 'x-is-encrypted': 'false' }, body: raw });
    expect(lastChat().body).toBe(raw);
  });

  const refusals: [string, string, RequestInit][] = [
    ['a GET', '/chat/completions', { method: 'GET' }],
    ['the bot API', '/bots/chat/completions', { method: 'POST', body: body(SINGLE_TURN) }],
    ['another endpoint', '/embeddings', { method: 'POST', body: '{"model":"m","input":"secret"}' }],
    ['a body that is not JSON', '/chat/completions', { method: 'POST', body: 'secret words' }],
    ['a body without messages', '/chat/completions', { method: 'POST', body: '{"model":"m","prompt":"secret"}' }],
  ];
  it.each(refusals)('%s with the header is refused and nothing is sent', async (_name, path, init) => {
    const before = server.requests.length;
    const headers = { authorization: auth, 'x-is-encrypted': 'true' };
    const error = await encryptedFetch(`${server.url}${path}`, { ...init, headers }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsupportedRequestError);
    expect(error).toMatchObject({ code: 'ERR_ARK_E2EE_UNSUPPORTED_REQUEST' });
    expect(server.requests.slice(before)).toEqual([]);
  });

  it('a non-2xx answer passes through untouched', async () => {
    const response = await encryptedFetch(chatUrl(), {
      method: 'POST', headers: { authorization: auth, 'x-is-encrypted': 'true' }, body: JSON.stringify({ model: 'mock-429', messages: SINGLE_TURN }) });
    expect(response.status).toBe(429);
    expect(((await response.json()) as { error: { code: string } }).error.code).toMatch(/RateLimit/);
  });

  it('an aborted signal stops the request before anything is sent', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    const before = server.requests.length;
    const fresh = createEncryptedFetch({ errors: 'throw', cacheDir: false });
    await expect(
      fresh(chatUrl(), { method: 'POST', headers: { authorization: auth, 'x-is-encrypted': 'true' }, body: body(SINGLE_TURN), signal: controller.signal }),
    ).rejects.toThrow('stop');
    expect(server.requests.slice(before)).toEqual([]);
  });
});

describe('createEncryptedFetch: an empty stream content in either form', () => {
  it('takes the ciphertext of "" (what the mock and the service send) and a plain "" alike', async () => {
    // The fetch under the encryption turns the sealed empty contents back into plain "".
    let replaced = 0;
    const plainEmpty: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (!String(input).endsWith('/chat/completions')) return response;
      const text = (await response.text()).replace(/"content":"[A-Za-z0-9+/]{22}=="/g, () => {
        replaced += 1;
        return '"content":""';
      });
      return new Response(text, { status: response.status, headers: response.headers });
    };
    for (const fetchFn of [encryptedFetch, createEncryptedFetch({ cacheDir: false, fetch: plainEmpty })]) {
      const response = await fetchFn(chatUrl(), {
        method: 'POST',
        headers: { authorization: auth, 'x-is-encrypted': 'true' },
        body: body(SINGLE_TURN, { stream: true }),
      });
      const events = (await response.text()).split('\n').filter((line) => line.startsWith('data: {'));
      const contents = events.map((line) => (JSON.parse(line.slice(6)) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content);
      expect(contents.at(-1)).toBe('');
      expect(contents.join('')).toBe(expectedAnswer(SINGLE_TURN));
    }
    expect(replaced).toBe(1);
  });
});
