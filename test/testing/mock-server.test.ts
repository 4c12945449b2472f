/**
 * The mock Ark service, driven by plain fetch and a client side written here on node:crypto
 * (independent of src/protocol), so each side checks the other.
 */
import { createCipheriv, createDecipheriv, createECDH, hkdfSync, X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MOCK_CONTENT_FILTER_TEXT, MOCK_MODELS, MOCK_TOOL_ARGUMENTS, MOCK_TOOL_CALL_ID, mockAnswerText, mockLongModel, mockLongText, mockReasoningText, startMockArkServer, type MockArkServer } from '../../src/testing/index.js';
import { mockPieces } from '../../src/testing/scenarios.js';

const API_KEY = 'test-api-key';

/** The client's half of the handshake (protocol §2), here on node:crypto. */
function handshake(certificatePem: string, aicc = false) {
  const certificate = new X509Certificate(certificatePem);
  const jwk = certificate.publicKey.export({ format: 'jwk' });
  const point = Buffer.concat([Buffer.of(4), Buffer.from(jwk.x ?? '', 'base64url'), Buffer.from(jwk.y ?? '', 'base64url')]);
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const okm = Buffer.from(hkdfSync('sha256', ecdh.computeSecret(point), Buffer.alloc(32), Buffer.alloc(0), 44));
  const key = okm.subarray(0, 32);
  const nonce = okm.subarray(32, 44);
  const info: Record<string, unknown> = { ExpireTime: Math.floor(Date.parse(certificate.validTo) / 1000) };
  if (aicc) {
    const names = (certificate.subjectAltName ?? '').split(', ').map((name) => name.replace(/^DNS:/, ''));
    Object.assign(info, { Version: 'AICCv0.1', RingID: names[0]?.slice(5), KeyID: names[1]?.slice(4) });
  }
  return {
    headers: {
      'x-is-encrypted': 'true',
      'X-Session-Token': ecdh.getPublicKey().toString('base64'),
      'X-Encrypt-Info': JSON.stringify(info),
    } as Record<string, string>,
    encrypt(text: string): string {
      const cipher = createCipheriv('aes-256-gcm', key, nonce);
      return Buffer.concat([cipher.update(text, 'utf8'), cipher.final(), cipher.getAuthTag()]).toString('base64');
    },
    decrypt(text: string | null | undefined): string {
      if (typeof text !== 'string') throw new TypeError(`not a ciphertext: ${String(text)}`);
      const body = Buffer.from(text, 'base64');
      const decipher = createDecipheriv('aes-256-gcm', key, nonce);
      decipher.setAuthTag(body.subarray(-16));
      return Buffer.concat([decipher.update(body.subarray(0, -16)), decipher.final()]).toString('utf8');
    },
  };
}

type Session = ReturnType<typeof handshake>;
type Message = { role: string; content: unknown; [key: string]: unknown };
interface WireToolCall { index?: number; id?: string; type?: string; function?: { name?: string; arguments?: string } }
interface WireChoice {
  index: number;
  finish_reason: string | null;
  message: { role: string; content: string | null; reasoning_content?: string; tool_calls?: [WireToolCall] };
  delta: { role?: string; content?: string | null; reasoning_content?: string; tool_calls?: [WireToolCall] };
}
/** A chat.completion, a chunk or an error body, loosely (choices typed non-empty for brevity). */
interface Wire {
  object: string;
  choices: [WireChoice, ...WireChoice[]];
  usage: { total_tokens: number; completion_tokens: number };
  error: { code: string; message: string; type: string };
  Certificate: string;
}

async function wire(response: Response | Promise<Response>): Promise<Wire> {
  return (await (await response).json()) as Wire;
}

function encryptMessages(session: Session, messages: Message[]): Message[] {
  return messages.map((m) => {
    if (typeof m.content === 'string') return { ...m, content: session.encrypt(m.content) };
    if (!Array.isArray(m.content)) return m;
    const parts = (m.content as Record<string, unknown>[]).map((part) => {
      if (part['type'] === 'text') return { ...part, text: session.encrypt(String(part['text'])) };
      const url = (part['image_url'] as { url: string }).url;
      return /^https?:/.test(url) ? part : { ...part, image_url: { url: session.encrypt(url) } };
    });
    return { ...m, content: parts };
  });
}

function post(server: MockArkServer, path: string, body: unknown, headers: Record<string, string> = {}, auth = true) {
  return fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${API_KEY}` } : {}), ...headers },
    body: JSON.stringify(body),
  });
}

async function chat(server: MockArkServer, body: Record<string, unknown>, session?: Session) {
  const messages = body['messages'] as Message[];
  const sent = session ? { ...body, messages: encryptMessages(session, messages) } : body;
  return post(server, '/chat/completions', sent, session?.headers);
}

async function events(response: Response | Promise<Response>): Promise<Wire[]> {
  const text = await (await response).text();
  const data = text.split('\n\n').filter(Boolean).map((event) => event.replace(/^data: /, ''));
  expect(data.at(-1)).toBe('[DONE]');
  return data.slice(0, -1).map((line) => JSON.parse(line) as Wire);
}

const MESSAGES: Message[] = [
  { role: 'system', content: '你是豆包，是由字节跳动开发的 AI 人工智能助手' },
  { role: 'user', content: '常见的十字花科植物有哪些？' },
  { role: 'assistant', content: '白菜、萝卜、西兰花。' },
  {
    role: 'user',
    content: [
      { type: 'text', text: 'What is in this picture? secret-words' },
      { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
      { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
    ],
  },
];
const PLAINTEXTS = ['你是豆包', '十字花科', '白菜', 'secret-words', 'data:image/png'];

describe('startMockArkServer', () => {
  let server: MockArkServer;
  beforeAll(async () => {
    server = await startMockArkServer({ apiKey: API_KEY });
  });
  afterAll(async () => {
    await server.close();
  });

  it('serves its self-signed P-256 certificate, behind the API key', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/v3$/);
    const marker = { 'X-Session-Token': '/e2e/get/certificate' };
    const denied = await post(server, '/e2e/get/certificate', { model: 'm' }, marker, false);
    expect(denied.status).toBe(401);
    expect((await wire(denied)).error).toMatchObject({ code: 'AuthenticationError', type: 'Unauthorized' });
    const before = server.certificateRequests;
    const answer = await post(server, '/e2e/get/certificate', { model: 'ep-1' }, marker);
    expect(answer.status).toBe(200);
    const { Certificate } = await wire(answer);
    expect(Certificate).toBe(server.certificatePem);
    expect(server.certificateRequests).toBe(before + 1);
    const x509 = new X509Certificate(Certificate);
    expect(x509.subject).toBe('CN=ark-e2ee mock model');
    expect(x509.verify(x509.publicKey)).toBe(true);
    expect(x509.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(x509.subjectAltName).toBeUndefined();
    const notAfter = Date.parse(x509.validTo);
    expect(Math.abs(notAfter - Date.now() - 365 * 86_400_000)).toBeLessThan(60_000);
    expect(Date.now() - Date.parse(x509.validFrom)).toBeGreaterThan(3_000_000);
    const unmarked = await post(server, '/e2e/get/certificate', { model: 'ep-1' });
    expect(unmarked.status).toBe(400);
  });

  it('decrypts an encrypted request and answers with the same session, no plaintext on the wire', async () => {
    const session = handshake(server.certificatePem);
    const response = await chat(server, { model: 'ep-1', messages: MESSAGES }, session);
    expect(response.status).toBe(200);
    const body = await wire(response);
    expect(body.object).toBe('chat.completion');
    expect(session.decrypt(body.choices[0].message.content)).toBe(mockAnswerText(MESSAGES));
    expect(mockAnswerText(MESSAGES)).toBe('echo: What is in this picture? secret-words [image] [image]');
    expect(body.usage.total_tokens).toBeGreaterThan(0);
    const record = server.requests.at(-1);
    expect(record?.headers['x-session-token']).toBe(session.headers['X-Session-Token']);
    for (const plain of PLAINTEXTS) expect(record?.body).not.toContain(plain);
    expect(record?.body).toContain('https://example.com/cat.png');
    expect(record?.decryptedMessages).toEqual(MESSAGES);
  });

  it('streams one ciphertext per chunk, then the usage chunk and [DONE]', async () => {
    const session = handshake(server.certificatePem);
    const request = { model: 'ep-1', messages: MESSAGES, stream: true, stream_options: { include_usage: true } };
    const response = await chat(server, request, session);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const chunks = await events(response);
    const usage = chunks.at(-1);
    expect(usage?.choices).toEqual([]);
    expect(usage?.usage.completion_tokens).toBeGreaterThan(0);
    const deltas = chunks.slice(0, -1).map((chunk) => chunk.choices[0].delta.content ?? '');
    expect(chunks[0]?.choices[0].delta.role).toBe('assistant');
    // The last chunk's empty content is the ciphertext of "" (the 16-byte tag), as the service's.
    expect(chunks.at(-2)?.choices[0].finish_reason).toBe('stop');
    expect(chunks.at(-2)?.choices[0].delta.content).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    const texts = deltas.map((d) => session.decrypt(d)).filter((t) => t !== '');
    expect(texts.length).toBeGreaterThan(5);
    expect(texts.every((t) => Array.from(t).length <= 3)).toBe(true);
    expect(texts.join('')).toBe(mockAnswerText(MESSAGES));
  });

  it('an encrypted stream never carries a plain "": every content that is not null decrypts (as the Python SDK reads it)', async () => {
    for (const model of [MOCK_MODELS.default, MOCK_MODELS.pieces, MOCK_MODELS.reasoning, MOCK_MODELS.tools]) {
      const session = handshake(server.certificatePem);
      const chunks = await events(await chat(server, { model, messages: MESSAGES, stream: true, stream_options: { include_usage: true } }, session));
      let decrypted = 0;
      for (const chunk of chunks) {
        for (const choice of chunk.choices) {
          for (const text of [choice.delta.content, choice.delta.reasoning_content]) {
            if (text === null || text === undefined) continue;
            expect(text, model).not.toBe('');
            session.decrypt(text);
            decrypted += 1;
          }
        }
      }
      expect(decrypted, model).toBeGreaterThan(0);
    }
    // Without encryption the last chunk keeps its plain "".
    const plain = await events(await chat(server, { model: MOCK_MODELS.default, messages: [{ role: 'user', content: 'hi' }], stream: true }));
    expect(plain.at(-1)?.choices[0].delta.content).toBe('');
  });

  it('takes a 32 MB encrypted request (the base64 check is linear, not a stack-bound regular expression)', async () => {
    const session = handshake(server.certificatePem);
    const big = 'x'.repeat(24 * 1024 * 1024);
    const messages = [{ role: 'user', content: big }, { role: 'user', content: 'short question' }];
    const response = await chat(server, { model: 'ep-1', messages }, session);
    expect(response.status).toBe(200);
    expect(session.decrypt((await wire(response)).choices[0].message.content)).toBe('echo: short question');
    const record = server.requests.at(-1)!;
    expect(Buffer.byteLength(record.body)).toBeGreaterThanOrEqual(32 * 1024 * 1024);
    expect((record.decryptedMessages?.[0] as Message).content).toBe(big);
    record.decryptedMessages = undefined;
  }, 60_000);

  it('mock-pieces: many ciphertexts end to end, padded and unpadded', async () => {
    const session = handshake(server.certificatePem);
    const body = await wire(chat(server, { model: MOCK_MODELS.pieces, messages: MESSAGES }, session));
    const content = body.choices[0].message.content ?? '';
    const pieces = mockPieces(mockAnswerText(MESSAGES));
    const ciphertexts = pieces.map((piece) => session.encrypt(piece));
    expect(content).toBe(ciphertexts.join(''));
    expect(pieces.join('')).toBe(mockAnswerText(MESSAGES));
    expect(pieces.every((p) => Array.from(p).length >= 1 && Array.from(p).length <= 4)).toBe(true);
    expect(ciphertexts.some((c) => c.endsWith('='))).toBe(true);
    expect(ciphertexts.some((c) => !c.endsWith('='))).toBe(true);
    expect(() => session.decrypt(content)).toThrow();
  });

  it('refuses a request that says it is encrypted but is not, and bad session headers', async () => {
    const session = handshake(server.certificatePem);
    const plain = await post(server, '/chat/completions', { model: 'ep-1', messages: MESSAGES }, session.headers);
    expect(plain.status).toBe(400);
    const error = (await wire(plain)).error;
    expect(error.code).toBe('InvalidParameter');
    expect(error.message).toContain('does not decrypt');
    const encrypted = { model: 'ep-1', messages: encryptMessages(session, MESSAGES) };
    const cases: Record<string, string>[] = [
      { ...session.headers, 'X-Session-Token': '' },
      { ...session.headers, 'X-Session-Token': Buffer.alloc(65, 4).toString('base64') },
      { ...session.headers, 'X-Encrypt-Info': '' },
      { ...session.headers, 'X-Encrypt-Info': '{"ExpireTime": 1.5}' },
      { ...session.headers, 'X-Encrypt-Info': '{"ExpireTime": 1}' },
    ];
    for (const headers of cases) expect((await post(server, '/chat/completions', encrypted, headers)).status).toBe(400);
    expect((await post(server, '/chat/completions', encrypted, session.headers)).status).toBe(200);
  });

  it('answers plain requests in plain text, on the batch route too; 404 for the bot API', async () => {
    const body = await wire(chat(server, { model: 'ep-1', messages: MESSAGES }));
    expect(body.choices[0].message.content).toBe(mockAnswerText(MESSAGES));
    const batch = await post(server, '/batch/chat/completions', { model: 'ep-1', messages: MESSAGES });
    expect((await wire(batch)).choices[0].message.content).toBe(mockAnswerText(MESSAGES));
    expect((await post(server, '/bots/chat/completions', { model: 'bot', messages: MESSAGES })).status).toBe(404);
  });

  it('allows CORS: a preflight is 204 and not recorded, answers carry the CORS headers', async () => {
    const recorded = server.requests.length;
    const preflight = await fetch(`${server.url}/chat/completions`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://127.0.0.1:1',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type,x-is-encrypted,x-session-token,x-encrypt-info',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    const allowed = preflight.headers.get('access-control-allow-headers') ?? '';
    for (const name of ['authorization', 'content-type', 'x-is-encrypted', 'x-session-token', 'x-encrypt-info']) {
      expect(allowed).toContain(name);
    }
    expect(server.requests.length).toBe(recorded);
    const answer = await chat(server, { model: 'ep-1', messages: MESSAGES });
    expect(answer.headers.get('access-control-allow-origin')).toBe('*');
    expect(answer.headers.get('access-control-expose-headers')).toContain('x-request-id');
  });

  it('401, 429 and 500 errors as Ark sends them', async () => {
    const session = handshake(server.certificatePem);
    const unauthorized = await post(server, '/chat/completions', { model: 'ep-1', messages: MESSAGES }, {}, false);
    expect(unauthorized.status).toBe(401);
    const limited = await chat(server, { model: MOCK_MODELS.rateLimited, messages: MESSAGES }, session);
    expect(limited.status).toBe(429);
    expect((await wire(limited)).error.code).toMatch(/^RateLimitExceeded/);
    expect((await chat(server, { model: MOCK_MODELS.serverError, messages: MESSAGES }, session)).status).toBe(500);
  });

  it('mock-content-filter: the filtered choice and final chunk are plain text', async () => {
    const session = handshake(server.certificatePem);
    const body = await wire(chat(server, { model: MOCK_MODELS.contentFilter, messages: MESSAGES }, session));
    expect(session.decrypt(body.choices[0].message.content)).toBe(mockAnswerText(MESSAGES));
    expect(body.choices[1]).toMatchObject({ index: 1, finish_reason: 'content_filter', message: { content: MOCK_CONTENT_FILTER_TEXT } });
    const chunks = await events(await chat(server, { model: MOCK_MODELS.contentFilter, messages: MESSAGES, stream: true }, session));
    expect(chunks.at(-1)?.choices[0]).toMatchObject({ finish_reason: 'content_filter', delta: { content: MOCK_CONTENT_FILTER_TEXT } });
  });

  it('mock-tools: a tool call round trip', async () => {
    const session = handshake(server.certificatePem);
    const tools = [{ type: 'function', function: { name: 'get_current_weather', parameters: { type: 'object' } } }];
    const ask: Message[] = [{ role: 'user', content: '北京今天天气如何？' }];
    const first = await wire(chat(server, { model: MOCK_MODELS.tools, messages: ask, tools }, session));
    expect(first.choices[0]).toMatchObject({ finish_reason: 'tool_calls', message: { content: null } });
    const [call] = first.choices[0].message.tool_calls ?? [{}];
    expect(call.id).toBe(MOCK_TOOL_CALL_ID);
    expect(call.function).toEqual({ name: 'get_current_weather', arguments: MOCK_TOOL_ARGUMENTS });
    const followUp: Message[] = [...ask, { role: 'assistant', content: null, tool_calls: [call] },
      { role: 'tool', tool_call_id: call.id, content: '晴，25°C' }];
    const second = handshake(server.certificatePem);
    const answer = await wire(chat(server, { model: MOCK_MODELS.tools, messages: followUp, tools }, second));
    expect(second.decrypt(answer.choices[0].message.content)).toBe('summary: 晴，25°C');
    const chunks = await events(await chat(server, { model: MOCK_MODELS.tools, messages: ask, tools, stream: true }, session));
    const args = chunks.map((c) => c.choices[0].delta.tool_calls?.[0]?.function?.arguments ?? '').join('');
    expect(args).toBe(MOCK_TOOL_ARGUMENTS);
    expect(chunks.at(-1)?.choices[0].finish_reason).toBe('tool_calls');
  });

  it('mock-reasoning: encrypted reasoning_content, in the message and in deltas', async () => {
    const session = handshake(server.certificatePem);
    const body = await wire(chat(server, { model: MOCK_MODELS.reasoning, messages: MESSAGES }, session));
    expect(session.decrypt(body.choices[0].message.reasoning_content)).toBe(mockReasoningText(MESSAGES));
    const chunks = await events(await chat(server, { model: MOCK_MODELS.reasoning, messages: MESSAGES, stream: true }, session));
    const reasoning = chunks.map((c) => c.choices[0].delta.reasoning_content).filter((r): r is string => typeof r === 'string');
    expect(reasoning.map((r) => session.decrypt(r)).join('')).toBe(mockReasoningText(MESSAGES));
  });

  it('mock-long:<N>: an answer of N characters in chunks', async () => {
    const session = handshake(server.certificatePem);
    const chunks = await events(await chat(server, { model: mockLongModel(1000, 10), messages: MESSAGES, stream: true }, session));
    const texts = chunks.map((c) => c.choices[0].delta.content ?? '').filter((d) => d !== '').map((d) => session.decrypt(d)).filter((t) => t !== '');
    expect(texts).toHaveLength(100);
    expect(texts.join('')).toBe(mockLongText(1000));
    expect(Array.from(mockLongText(1000))).toHaveLength(1000);
  });
});

describe('mockAnswerText', () => {
  it('echoes the last user message, or summarises a tool result that ends the conversation', () => {
    expect(mockAnswerText([{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }])).toBe('echo: a');
    expect(mockAnswerText([{ role: 'user', content: [{ type: 'text', text: 'x' }, { type: 'video_url' }] }])).toBe('echo: x [video]');
    expect(mockAnswerText([{ role: 'user', content: 'q' }, { role: 'tool', content: 'r' }])).toBe('summary: r');
    expect(mockAnswerText([])).toBe('echo: ');
  });
});

describe('AICC mode and certificate options', () => {
  it('names the ring and key in the SAN and checks them in X-Encrypt-Info', async () => {
    const server = await startMockArkServer({ aicc: true, ringId: 'r1', keyId: 'k1' });
    try {
      expect(new X509Certificate(server.certificatePem).subjectAltName).toBe('DNS:ring.r1, DNS:key.k1');
      const session = handshake(server.certificatePem, true);
      const ok = await chat(server, { model: 'ep-1', messages: MESSAGES }, session);
      expect(session.decrypt((await wire(ok)).choices[0].message.content)).toBe(mockAnswerText(MESSAGES));
      const info = JSON.parse(session.headers['X-Encrypt-Info'] ?? '{}') as Record<string, unknown>;
      const wrong = { ...session.headers, 'X-Encrypt-Info': JSON.stringify({ ...info, KeyID: 'other' }) };
      const refused = await post(server, '/chat/completions', { model: 'ep-1', messages: encryptMessages(session, MESSAGES) }, wrong);
      expect(refused.status).toBe(400);
    } finally {
      await server.close();
    }
  });

  it('takes notBefore/notAfter, and close() ends streams in flight and the listener', async () => {
    const notAfter = new Date(Date.now() - 1000);
    const server = await startMockArkServer({ notBefore: new Date(Date.now() - 86_400_000), notAfter });
    const x509 = new X509Certificate(server.certificatePem);
    expect(Date.parse(x509.validTo)).toBe(Math.floor(notAfter.getTime() / 1000) * 1000);
    const response = await chat(server, { model: mockLongModel(5_000_000, 1), messages: MESSAGES, stream: true });
    const reader = response.body?.getReader();
    await reader?.read();
    await server.close();
    await expect(server.close()).resolves.toBeUndefined();
    expect(server.server.listening).toBe(false);
    await expect((async () => { for (;;) if ((await reader?.read())?.done) return; })()).rejects.toThrow();
  });
});
