/**
 * The real `openai` client, with `fetch: createEncryptedFetch()`, against the mock Ark server:
 * one test per example of the seed page, all with encryption on, and the wire checked.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArkE2EEError, DecryptionFailedError, UnsupportedContentError, createEncryptedFetch } from '../../src/index.js';
import { startMockArkServer, MOCK_TOOL_ARGUMENTS, type MockArkServer } from '../../src/testing/index.js';
import {
  HTTP_IMAGE_MESSAGES,
  IMAGE_MESSAGES,
  MULTI_TURN,
  SINGLE_TURN,
  TOOL_RESULT,
  WEATHER_TOOLS,
  expectedAnswer,
  secretTexts,
} from './seed-scenarios.js';

const API_KEY = 'ark-test-key';
const ENCRYPTED = { headers: { 'x-is-encrypted': 'true' } };

let server: MockArkServer;
let client: OpenAI;
const warnings: string[] = [];

beforeAll(async () => {
  server = await startMockArkServer({ apiKey: API_KEY });
  client = new OpenAI({
    apiKey: API_KEY,
    baseURL: server.url,
    maxRetries: 0,
    fetch: createEncryptedFetch({ cacheDir: false, onWarning: (m) => warnings.push(m) }),
  });
});
afterAll(() => server.close());

/** The raw chat bodies the server got since `from`, and their session tokens. */
function chatRequestsSince(from: number) {
  return server.requests.slice(from).filter((r) => r.path.endsWith('/chat/completions'));
}

function expectEncryptedOnWire(from: number, messages: readonly unknown[]): void {
  const sent = chatRequestsSince(from);
  expect(sent.length).toBeGreaterThan(0);
  for (const request of sent) {
    expect(request.headers['x-is-encrypted']).toBe('true');
    expect(request.headers['x-session-token']).toMatch(/^B[A-Za-z0-9+/]{86}=$/);
    for (const text of secretTexts(messages)) expect(request.body).not.toContain(text);
  }
}

describe('openai client with createEncryptedFetch', () => {
  it('single turn', async () => {
    const from = server.requests.length;
    const completion = await client.chat.completions.create({ model: 'mock-model', messages: SINGLE_TURN }, ENCRYPTED);
    expect(completion.choices[0]?.message.content).toBe(expectedAnswer(SINGLE_TURN));
    expectEncryptedOnWire(from, SINGLE_TURN);
    expect(chatRequestsSince(from)[0]?.decryptedMessages).toEqual(SINGLE_TURN);
  });

  it('multi turn, answer made of many ciphertexts end to end', async () => {
    const from = server.requests.length;
    const completion = await client.chat.completions.create({ model: 'mock-pieces', messages: MULTI_TURN }, ENCRYPTED);
    expect(completion.choices[0]?.message.content).toBe(expectedAnswer(MULTI_TURN));
    expectEncryptedOnWire(from, MULTI_TURN);
  });

  it('streaming, with the usage chunk', async () => {
    const from = server.requests.length;
    const stream = await client.chat.completions.create(
      { model: 'mock-model', messages: SINGLE_TURN, stream: true, stream_options: { include_usage: true } },
      ENCRYPTED,
    );
    let text = '';
    let usageChunks = 0;
    for await (const chunk of stream) {
      if (chunk.choices.length === 0) usageChunks++;
      text += chunk.choices[0]?.delta.content ?? '';
    }
    expect(text).toBe(expectedAnswer(SINGLE_TURN));
    expect(usageChunks).toBe(1);
    expectEncryptedOnWire(from, SINGLE_TURN);
  });

  it('many concurrent streamed calls (the async example), each with its own session', async () => {
    const from = server.requests.length;
    const questions = Array.from({ length: 20 }, (_, i) => [...SINGLE_TURN.slice(0, 1), { role: 'user' as const, content: `问题 ${i}` }]);
    const answers = await Promise.all(
      questions.map(async (messages) => {
        const stream = await client.chat.completions.create({ model: 'mock-model', messages, stream: true }, ENCRYPTED);
        let text = '';
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
        return text;
      }),
    );
    expect(answers).toEqual(questions.map(expectedAnswer));
    const tokens = chatRequestsSince(from).map((r) => r.headers['x-session-token']);
    expect(new Set(tokens).size).toBe(20);
  });

  it('function call round trip', async () => {
    const messages: OpenAI.ChatCompletionMessageParam[] = [
      { role: 'system', content: SINGLE_TURN[0]!.content },
      { role: 'user', content: '北京今天的天气' },
    ];
    const first = await client.chat.completions.create({ model: 'mock-tools', messages, tools: WEATHER_TOOLS, temperature: 0.8 }, ENCRYPTED);
    const call = first.choices[0]?.message.tool_calls?.[0];
    expect(first.choices[0]?.finish_reason).toBe('tool_calls');
    expect(call?.type === 'function' && call.function.arguments).toBe(MOCK_TOOL_ARGUMENTS);
    messages.push(first.choices[0]!.message, { role: 'tool', tool_call_id: call!.id, content: TOOL_RESULT });
    const from = server.requests.length;
    const second = await client.chat.completions.create({ model: 'mock-tools', messages, tools: WEATHER_TOOLS }, ENCRYPTED);
    expect(second.choices[0]?.message.content).toBe(expectedAnswer(messages));
    expectEncryptedOnWire(from, messages);
  });

  it('custom X-Client-Request-Id header reaches the service beside the encryption headers', async () => {
    const from = server.requests.length;
    const id = '202406251728190000B7EA7A9648AC08D9';
    const response = await client.chat.completions
      .create({ model: 'mock-model', messages: SINGLE_TURN }, { headers: { ...ENCRYPTED.headers, 'X-Client-Request-Id': id } })
      .withResponse();
    expect(response.data.choices[0]?.message.content).toBe(expectedAnswer(SINGLE_TURN));
    expect(chatRequestsSince(from)[0]?.headers['x-client-request-id']).toBe(id);
    expect(response.response.headers.get('x-client-request-id')).toBe(id);
  });

  it('a base64 image is encrypted; an http image URL is sent as it is, with a warning', async () => {
    let from = server.requests.length;
    const withImage = await client.chat.completions.create({ model: 'mock-model', messages: IMAGE_MESSAGES }, ENCRYPTED);
    expect(withImage.choices[0]?.message.content).toBe(expectedAnswer(IMAGE_MESSAGES));
    expectEncryptedOnWire(from, IMAGE_MESSAGES);
    expect(chatRequestsSince(from)[0]?.body).not.toContain('data:image/png');

    from = server.requests.length;
    warnings.length = 0;
    const withUrl = await client.chat.completions.create({ model: 'mock-model', messages: HTTP_IMAGE_MESSAGES }, ENCRYPTED);
    expect(withUrl.choices[0]?.message.content).toBe(expectedAnswer(HTTP_IMAGE_MESSAGES));
    expect(chatRequestsSince(from)[0]?.body).toContain('https://example.com/cat.png');
    expect(warnings.join('\n')).toMatch(/messages\[0\]\.content\[1\].*https/);
  });

  it('error handling: a 401 surfaces as the openai AuthenticationError', async () => {
    const bad = new OpenAI({ apiKey: 'wrong', baseURL: server.url, maxRetries: 0, fetch: createEncryptedFetch({ cacheDir: false }) });
    const from = server.requests.length;
    // The certificate service's 401: the same error class as the chat endpoint's own.
    await expect(bad.chat.completions.create({ model: 'mock-model', messages: SINGLE_TURN }, ENCRYPTED)).rejects.toMatchObject({
      constructor: OpenAI.AuthenticationError,
      status: 401,
      code: 'ERR_ARK_E2EE_CERTIFICATE_UNAVAILABLE',
    });
    expect(chatRequestsSince(from)).toHaveLength(0);
    // With the certificate already known, the chat endpoint's own 401 passes through untouched.
    const known = new OpenAI({
      apiKey: 'wrong',
      baseURL: server.url,
      maxRetries: 0,
      fetch: createEncryptedFetch({ cacheDir: false, certificate: server.certificatePem }),
    });
    await expect(known.chat.completions.create({ model: 'mock-model', messages: SINGLE_TURN }, ENCRYPTED)).rejects.toBeInstanceOf(
      OpenAI.AuthenticationError,
    );
  });

  it('error handling: 429 is the openai RateLimitError', async () => {
    await expect(client.chat.completions.create({ model: 'mock-429', messages: SINGLE_TURN }, ENCRYPTED)).rejects.toBeInstanceOf(
      OpenAI.RateLimitError,
    );
  });

  it('our typed errors reach the caller, and nothing is sent', async () => {
    const from = server.requests.length;
    const refused = client.chat.completions.create(
      { model: 'mock-model', messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] }] },
      ENCRYPTED,
    );
    const error = await refused.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error).toMatchObject({ code: UnsupportedContentError.code, param: 'messages[0].content[0]' });
    expect(chatRequestsSince(from)).toHaveLength(0);
    // errors: 'throw': the typed error itself, as the cause of openai's connection error.
    const throwing = new OpenAI({ apiKey: API_KEY, baseURL: server.url, maxRetries: 0, fetch: createEncryptedFetch({ cacheDir: false, errors: 'throw' }) });
    const thrown = await throwing.chat.completions
      .create({ model: 'mock-model', messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] }] }, ENCRYPTED)
      .catch((e: unknown) => e);
    const typed = thrown instanceof ArkE2EEError ? thrown : (thrown as { cause?: unknown }).cause;
    expect(typed).toBeInstanceOf(UnsupportedContentError);
  });

  it('answers that do not authenticate are DecryptionFailedError, streamed or not', async () => {
    // A service that answers under a key nobody agreed: as if a gateway swapped the answer.
    const forged = createServer((request, response) => {
      const stream = request.headers['accept'] === 'text/event-stream' || request.url?.includes('stream');
      request.resume();
      request.on('end', () => {
        const content = Buffer.alloc(40, 7).toString('base64');
        if (stream) {
          response.writeHead(200, { 'content-type': 'text/event-stream' });
          response.end(`data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\ndata: [DONE]\n\n`);
        } else {
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ id: 'x', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content } }] }));
        }
      });
    });
    await new Promise<void>((resolve) => forged.listen(0, '127.0.0.1', resolve));
    const { port } = forged.address() as AddressInfo;
    try {
      const make = (path: string) =>
        new OpenAI({
          apiKey: API_KEY,
          baseURL: `http://127.0.0.1:${port}${path}`,
          maxRetries: 0,
          fetch: createEncryptedFetch({ cacheDir: false, certificate: server.certificatePem }),
        });
      const stream = await make('/stream/api/v3').chat.completions.create({ model: 'm', messages: SINGLE_TURN, stream: true }, ENCRYPTED);
      const streamed = await (async () => {
        for await (const chunk of stream) void chunk;
      })().catch((e: unknown) => e);
      expect(streamed).toBeInstanceOf(DecryptionFailedError);
      expect(streamed).toMatchObject({ code: 'ERR_ARK_E2EE_DECRYPTION_FAILED', choiceIndex: 0 });

      const whole = await make('/api/v3').chat.completions.create({ model: 'm', messages: SINGLE_TURN }, ENCRYPTED).catch((e: unknown) => e);
      expect(whole).toBeInstanceOf(OpenAI.InternalServerError);
      expect(whole).toMatchObject({ status: 502, code: DecryptionFailedError.code });
    } finally {
      forged.closeAllConnections();
      await new Promise((resolve) => forged.close(resolve));
    }
  });
});
