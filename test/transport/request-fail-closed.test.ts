/**
 * Issue 10, the request side, from outside: a request that asks for encryption leaves encrypted
 * or not at all, through createEncryptedFetch, the undici interceptor (a real Agent.compose) and
 * the proxy. The mock server records every request that reaches it; after each test, no
 * recorded request (path, headers, body) holds a text marked secret.
 */
import { Agent, Headers as UndiciHeaders, request as undiciRequest, type Dispatcher } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ArkE2EEError, UnsupportedContentError, UnsupportedRequestError } from '../../src/errors.js';
import { arkEncryption, createEncryptedFetch } from '../../src/index.js';
import { MOCK_MODELS, startMockArkServer, type MockArkServer } from '../../src/testing/index.js';
import { startEncryptingProxy, type EncryptingProxy } from '../../src/transport/proxy.js';
import { rawRequest } from '../helpers/raw-http.js';

const API_KEY = 'fail-closed-key';
const auth = `Bearer ${API_KEY}`;
/** Every text that must never reach the server in plain text carries this. */
const SECRET = 'SECRET-5d41402a';
const secretMessages = [
  { role: 'system', content: `${SECRET} system` },
  { role: 'user', content: `${SECRET} question` },
];
const chatBody = (messages: unknown = secretMessages, extra: object = {}): string =>
  JSON.stringify({ model: MOCK_MODELS.default, messages, ...extra });

let server: MockArkServer;
let proxy: EncryptingProxy;
let allProxy: EncryptingProxy;
let agent: Dispatcher;
const warnings: string[] = [];
let encryptedFetch: typeof fetch;

beforeAll(async () => {
  server = await startMockArkServer({ apiKey: API_KEY });
  const options = { cacheDir: false as const, onWarning: (message: string) => warnings.push(message) };
  encryptedFetch = createEncryptedFetch({ ...options, errors: 'throw' });
  agent = new Agent().compose(arkEncryption(options));
  proxy = await startEncryptingProxy({ upstream: server.url, ...options });
  allProxy = await startEncryptingProxy({ upstream: server.url, encryptAll: true, ...options });
});
afterAll(async () => {
  await Promise.all([proxy.close(), allProxy.close(), agent.close()]);
  await server.close();
});
let checked = 0;
afterEach(() => {
  const fresh = server.requests.slice(checked);
  checked = server.requests.length;
  for (const recorded of fresh) {
    expect(recorded.body).not.toContain(SECRET);
    expect(recorded.path).not.toContain(SECRET);
    expect(JSON.stringify(recorded.headers)).not.toContain(SECRET);
  }
});

const chatUrl = (path = '/chat/completions'): string => `${server.url}${path}`;
const chats = (from: number) => server.requests.slice(from).filter((r) => !r.path.endsWith('/e2e/get/certificate'));

/** The outcome of one call: the error, or the status. Never both. */
async function outcome(call: Promise<{ status: number; text: () => Promise<string> }>): Promise<{ error?: unknown; status?: number; text?: string }> {
  try {
    const answer = await call;
    return { status: answer.status, text: await answer.text() };
  } catch (error) {
    // undici's fetch wraps a dispatcher's error in a TypeError; ours are typed.
    const cause = (error as { cause?: unknown }).cause;
    return { error: error instanceof ArkE2EEError ? error : (cause ?? error) };
  }
}

function viaFetch(init: Omit<RequestInit, 'headers'> & { headers?: unknown }, path?: string) {
  return outcome(encryptedFetch(chatUrl(path), { method: 'POST', ...init } as RequestInit));
}

function viaUndici(opts: { headers?: unknown; body?: string | Uint8Array; method?: string; path?: string }) {
  return outcome(
    undiciRequest(chatUrl(opts.path), {
      dispatcher: agent,
      method: (opts.method ?? 'POST') as Dispatcher.HttpMethod,
      headers: opts.headers as Record<string, string>,
      body: opts.body ?? chatBody(),
    }).then((answer) => ({ status: answer.statusCode, text: () => answer.body.text() })),
  );
}

async function expectEncrypted(send: () => Promise<{ error?: unknown; status?: number; text?: string }>): Promise<void> {
  const before = server.requests.length;
  const result = await send();
  expect(result.error).toBeUndefined();
  expect(result.status).toBe(200);
  const sent = chats(before);
  expect(sent).toHaveLength(1);
  expect(sent[0]!.headers['x-session-token']).toMatch(/^[A-Za-z0-9+/]{86}==?$|^[A-Za-z0-9+/]{87}=$/);
  expect(sent[0]!.headers['x-is-encrypted']).toBe('true');
}

async function expectRefused(send: () => Promise<{ error?: unknown; status?: number }>, type: abstract new (...args: never[]) => ArkE2EEError = UnsupportedRequestError): Promise<void> {
  const before = server.requests.length;
  const result = await send();
  expect(result.error).toBeInstanceOf(type);
  expect(chats(before)).toEqual([]);
}

describe('the switch, in every form, through the fetch wrapper and the undici interceptor', () => {
  const encrypting: [string, () => unknown][] = [
    ["undici's Headers", () => new UndiciHeaders({ authorization: auth, 'x-is-encrypted': 'true' })],
    ['a Map', () => new Map([['authorization', auth], ['x-is-encrypted', 'true']])],
    ['a record with ["true"]', () => ({ authorization: auth, 'x-is-encrypted': ['true'] })],
    ['a record with " true"', () => ({ authorization: auth, 'x-is-encrypted': ' true' })],
    ['the header twice, as pairs', () => [['authorization', auth], ['x-is-encrypted', 'true'], ['X-Is-Encrypted', 'true']]],
    ['both letter cases in one record', () => ({ authorization: auth, 'x-is-encrypted': 'true', 'X-IS-ENCRYPTED': 'TRUE' })],
    ['Headers.append twice', () => {
      const headers = new Headers({ authorization: auth });
      headers.append('x-is-encrypted', 'true');
      headers.append('x-is-encrypted', 'true');
      return headers;
    }],
  ];
  it.each(encrypting)('fetch: %s encrypts', async (_name, headers) => {
    await expectEncrypted(() => viaFetch({ headers: headers(), body: chatBody() }));
  });
  it.each(encrypting)('undici: %s encrypts', async (_name, headers) => {
    await expectEncrypted(() => viaUndici({ headers: headers() }));
  });
  it('fetch: a boolean true encrypts', async () => {
    await expectEncrypted(() => viaFetch({ headers: { authorization: auth, 'x-is-encrypted': true }, body: chatBody() }));
  });

  const refused: [string, Record<string, unknown> | unknown[]][] = [
    ['"false, true"', { 'x-is-encrypted': 'false, true' }],
    ['"true, false"', { 'x-is-encrypted': 'true, false' }],
    ['false and true in two letter cases', { 'x-is-encrypted': 'false', 'X-Is-Encrypted': 'true' }],
    ['"1"', { 'x-is-encrypted': '1' }],
    ['"yes"', { 'x-is-encrypted': 'yes' }],
    ['empty', { 'x-is-encrypted': '' }],
    ['false, then true, as pairs', [['x-is-encrypted', 'false'], ['x-is-encrypted', 'true']]],
  ];
  it.each(refused)('fetch: %s is refused, nothing sent', async (_name, headers) => {
    const withAuth = Array.isArray(headers) ? [['authorization', auth], ...headers] : { authorization: auth, ...headers };
    await expectRefused(() => viaFetch({ headers: withAuth, body: chatBody() }));
  });
  it.each(refused)('undici: %s is refused, nothing sent', async (_name, headers) => {
    const withAuth = Array.isArray(headers) ? [['authorization', auth], ...headers] : { authorization: auth, ...headers };
    await expectRefused(() => viaUndici({ headers: withAuth }));
  });

  it('false, in any form, passes through untouched', async () => {
    const raw = chatBody([{ role: 'user', content: 'nothing secret here' }]);
    for (const headers of [{ 'x-is-encrypted': 'false' }, { 'x-is-encrypted': 'FALSE, false' }, new Map([['x-is-encrypted', 'false']])]) {
      const before = server.requests.length;
      const withAuth = headers instanceof Map ? new Map([...headers, ['authorization', auth]]) : { ...headers, authorization: auth };
      expect((await viaFetch({ headers: withAuth, body: raw })).status).toBe(200);
      expect((await viaUndici({ headers: withAuth, body: raw })).status).toBe(200);
      expect(chats(before).map((r) => r.body)).toEqual([raw, raw]);
    }
  });
});

describe('odd paths and methods with the switch on: refused, never sent plain', () => {
  const paths = ['/chat//completions', '/%63hat/completions', '/chat/completions;x=1', '/Chat/Completions', '/chat/completions%2F', '/bots/chat/completions'];
  const headers = { authorization: auth, 'x-is-encrypted': 'true' };
  it.each(paths)('%s', async (path) => {
    await expectRefused(() => viaFetch({ headers, body: chatBody() }, path));
    await expectRefused(() => viaUndici({ headers, path }));
  });
  it('//chat/completions right after the origin: its base URL is the origin, and it has no certificate', async () => {
    const before = server.requests.length;
    const origin = new URL(server.url).origin;
    const result = await outcome(encryptedFetch(`${origin}//chat/completions`, { method: 'POST', headers, body: chatBody() }));
    expect(result.error).toBeInstanceOf(ArkE2EEError);
    expect(chats(before)).toEqual([]);
  });
  it('a chat request with another method is refused, not turned into a POST', async () => {
    for (const method of ['PUT', 'PATCH', 'DELETE']) {
      await expectRefused(() => viaFetch({ method, headers, body: chatBody() }));
      await expectRefused(() => viaUndici({ method, headers }));
    }
    await expectRefused(() => viaFetch({ method: 'GET', headers }));
  });
});

describe('what the body carries', () => {
  const headers = { authorization: auth, 'x-is-encrypted': 'true' };

  it('reasoning_content sent back in a multi-turn conversation never leaves in plain text', async () => {
    // Turn 1 on a thinking model: the answer's message carries decrypted reasoning.
    const first = await encryptedFetch(chatUrl(), { method: 'POST', headers, body: JSON.stringify({ model: MOCK_MODELS.reasoning, messages: secretMessages }) });
    const message = ((await first.json()) as { choices: { message: { role: string; content: string; reasoning_content: string } }[] }).choices[0]!.message;
    expect(message.reasoning_content.length).toBeGreaterThan(0);
    const reasoning = message.reasoning_content;
    // Turn 2, the usual pattern: the message is pushed back as it came.
    const messages = [...secretMessages, message, { role: 'user', content: `${SECRET} again` }];
    warnings.length = 0;
    for (const send of [
      () => viaFetch({ headers, body: chatBody(messages) }),
      () => viaUndici({ headers, body: chatBody(messages) }),
    ]) {
      const before = server.requests.length;
      await expectEncrypted(send);
      const sent = chats(before)[0]!;
      expect(sent.body).not.toContain(reasoning);
      expect(sent.body).not.toContain('reasoning_content');
      expect(sent.decryptedMessages?.[2]).toEqual({ role: 'assistant', content: message.content });
    }
    expect(warnings.filter((w) => w.includes('reasoning_content'))).toHaveLength(2);
  });

  it('a bytes body that is not UTF-8 is refused, not repaired', async () => {
    const good = new TextEncoder().encode(chatBody());
    const at = good.indexOf(0x53); // the S of the first SECRET
    const bad = new Uint8Array([...good.subarray(0, at), 0xff, ...good.subarray(at)]);
    await expectRefused(() => viaFetch({ headers, body: bad }));
    await expectRefused(() => viaUndici({ headers, body: bad }));
    await expectRefused(() => viaUndici({ headers, body: Buffer.from(bad) }));
  });

  it('JSON nested too deep is an UnsupportedContentError, not a RangeError', async () => {
    const depth = 200_000;
    const deep = `{"model":"${MOCK_MODELS.default}","messages":${JSON.stringify(secretMessages)},"x":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    await expectRefused(() => viaFetch({ headers, body: deep }), UnsupportedContentError);
    await expectRefused(() => viaUndici({ headers, body: deep }), UnsupportedContentError);
  });

  it('a body without a string model is refused', async () => {
    for (const body of [JSON.stringify({ messages: secretMessages }), JSON.stringify({ model: 7, messages: secretMessages })]) {
      await expectRefused(() => viaFetch({ headers, body }));
      await expectRefused(() => viaUndici({ headers, body }));
    }
  });

  it('an image URL with no scheme at its start, or no string url, is refused', async () => {
    const parts = [
      { type: 'image_url', image_url: { url: `x/http://example.com/${SECRET}.png` } },
      { type: 'image_url', image_url: { url: 42 } },
      { type: 'image_url', image_url: { url: { href: `http://example.com/${SECRET}` } } },
    ];
    for (const part of parts) {
      const body = chatBody([{ role: 'user', content: [{ type: 'text', text: SECRET }, part] }]);
      await expectRefused(() => viaFetch({ headers, body }), UnsupportedContentError);
      await expectRefused(() => viaUndici({ headers, body }), UnsupportedContentError);
    }
  });

  it('a member named like content in another case is refused (a case-blind server would read it)', async () => {
    for (const body of [
      chatBody([{ role: 'user', Content: `${SECRET} typo` }]),
      JSON.stringify({ model: MOCK_MODELS.default, messages: [], MESSAGES: secretMessages }),
    ]) {
      await expectRefused(() => viaFetch({ headers, body }), UnsupportedContentError);
      await expectRefused(() => viaUndici({ headers, body }), UnsupportedContentError);
    }
  });

  it('a video given as a data: URL is sent as it is, with a warning', async () => {
    warnings.length = 0;
    const video = 'data:video/mp4;base64,AAAAIGZ0eXBpc29t';
    const body = chatBody([{ role: 'user', content: [{ type: 'text', text: SECRET }, { type: 'video_url', video_url: { url: video } }] }]);
    const before = server.requests.length;
    await expectEncrypted(() => viaFetch({ headers, body }));
    expect(chats(before)[0]!.body).toContain(video);
    expect(warnings).toEqual([expect.stringContaining('data: URL')]);
  });
});

describe('the proxy', () => {
  const json = ['content-type', 'application/json'] as const;
  const authLine = ['authorization', auth] as const;

  it('Connection: close, x-is-encrypted does not take the switch away', async () => {
    const before = server.requests.length;
    const answer = await rawRequest(proxy.port, 'POST', '/chat/completions', [json, authLine, ['x-is-encrypted', 'true'], ['Connection', 'close, x-is-encrypted']], chatBody());
    expect(answer.status).toBe(200);
    const sent = chats(before);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.headers['x-is-encrypted']).toBe('true');
    expect(sent[0]!.headers['x-session-token']).toBeDefined();
  });

  it('the header twice: true and true encrypts; false and true is refused (400), nothing sent', async () => {
    let before = server.requests.length;
    const twice = await rawRequest(proxy.port, 'POST', '/chat/completions', [json, authLine, ['x-is-encrypted', 'true'], ['X-Is-Encrypted', 'TRUE']], chatBody());
    expect(twice.status).toBe(200);
    expect(chats(before)[0]!.headers['x-session-token']).toBeDefined();
    for (const values of [['false', 'true'], ['true', 'false'], ['true, false'], ['yes'], ['']]) {
      before = server.requests.length;
      const lines = values.map((value) => ['x-is-encrypted', value] as const);
      const answer = await rawRequest(proxy.port, 'POST', '/chat/completions', [json, authLine, ...lines], chatBody());
      expect(answer.status).toBe(400);
      expect(JSON.parse(answer.body)).toMatchObject({ error: { code: 'ERR_ARK_E2EE_UNSUPPORTED_REQUEST' } });
      expect(chats(before)).toEqual([]);
    }
  });

  it('reasoning_content and bytes that are not UTF-8 through the proxy', async () => {
    const withReasoning = chatBody([...secretMessages, { role: 'assistant', content: 'a', reasoning_content: `${SECRET} thought` }]);
    await expectEncrypted(async () => {
      const answer = await rawRequest(proxy.port, 'POST', '/chat/completions', [json, authLine, ['x-is-encrypted', 'true']], withReasoning);
      return { status: answer.status };
    });
    const good = Buffer.from(chatBody());
    const bad = Buffer.concat([good.subarray(0, 20), Buffer.from([0xc3, 0x28]), good.subarray(20)]);
    const before = server.requests.length;
    const answer = await rawRequest(proxy.port, 'POST', '/chat/completions', [json, authLine, ['x-is-encrypted', 'true']], bad);
    expect(answer.status).toBe(400);
    expect(chats(before)).toEqual([]);
  });

  it('bodies and methods that cannot be encrypted: 400, nothing sent', async () => {
    const depth = 200_000;
    const refusedBodies: [string, string, string][] = [
      ['no model', 'POST', JSON.stringify({ messages: secretMessages })],
      ['too deep', 'POST', `{"model":"m","messages":${JSON.stringify(secretMessages)},"x":${'['.repeat(depth)}${']'.repeat(depth)}}`],
      ['image URL without a scheme at its start', 'POST', chatBody([{ role: 'user', content: [{ type: 'text', text: SECRET }, { type: 'image_url', image_url: { url: 'x/http://example.com/a.png' } }] }])],
      ['Content in another case', 'POST', chatBody([{ role: 'user', Content: SECRET }])],
      ['a PUT', 'PUT', chatBody()],
    ];
    for (const [name, method, body] of refusedBodies) {
      const before = server.requests.length;
      const answer = await rawRequest(proxy.port, method, '/chat/completions', [json, authLine, ['x-is-encrypted', 'true']], body);
      expect(answer.status, name).toBe(400);
      expect(JSON.parse(answer.body)).toMatchObject({ error: { type: 'ark_e2ee_error' } });
      expect(chats(before), name).toEqual([]);
    }
  });

  it('--encrypt-all: a chat body is encrypted or refused whatever the spelling of its path', async () => {
    const odd = ['/chat//completions', '//chat/completions', '/%63hat/completions', '/chat/completions;x=1', '/CHAT/completions',
      '/chat/completions%2F', '/chat/%2563ompletions', '/bots/chat/completions', '/chat/completions/.', '/anything', '/chat\\completions'];
    for (const path of odd) {
      for (const method of ['POST', 'PUT']) {
        const before = server.requests.length;
        const answer = await rawRequest(allProxy.port, method, path, [json, authLine], chatBody());
        const sent = chats(before);
        if (sent.length === 0) {
          expect(answer.status, `${method} ${path}`).toBe(400);
          expect(JSON.parse(answer.body)).toMatchObject({ error: { code: 'ERR_ARK_E2EE_UNSUPPORTED_REQUEST' } });
        } else {
          expect(sent).toHaveLength(1);
          expect(sent[0]!.headers['x-session-token'], `${method} ${path}`).toBeDefined();
        }
      }
    }
    // A body with "messages" in another letter case, or not quite JSON, is not sent plain either.
    for (const body of [`{"model":"m","Messages":[{"role":"user","content":"${SECRET}"}]}`, `\uFEFF${chatBody()}`, `${chatBody()} trailing`]) {
      const before = server.requests.length;
      const answer = await rawRequest(allProxy.port, 'POST', '/completions', [json, authLine], body);
      expect(answer.status).toBe(400);
      expect(chats(before)).toEqual([]);
    }
  });

  it('--encrypt-all: requests without chat messages still pass through', async () => {
    const before = server.requests.length;
    const embeddings = JSON.stringify({ model: 'm', input: 'not secret' });
    const answer = await rawRequest(allProxy.port, 'POST', '/embeddings', [json, authLine], embeddings);
    expect(answer.status).toBe(404); // the mock has no such route: it reached the server as it was
    expect(chats(before).map((r) => r.body)).toEqual([embeddings]);
  });
});
