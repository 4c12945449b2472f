/**
 * What a user of openai, the Vercel AI SDK and LangChain sees when something fails, with
 * encryption on (default `errors: 'response'`), against what they see for the same problem
 * without it: a wrong API key is the client's authentication error (401), a request the library
 * refuses fails at once as a 400 naming the library's code (no retries, nothing sent), an
 * unreachable service stays a connection error with the address in it, and an answer that does
 * not decrypt is an error, never a success.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { ChatOpenAI } from '@langchain/openai';
import { APICallError, generateText, streamText } from 'ai';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEncryptedFetch, HEADER_ARK_E2EE_ERROR } from '../../src/index.js';
import { startMockArkServer, type MockArkServer } from '../../src/testing/index.js';
import { SINGLE_TURN } from './seed-scenarios.js';

const API_KEY = 'ark-errors-key';
const ENCRYPTED = { 'x-is-encrypted': 'true' };
const AUDIO = new Uint8Array([0x52, 0x49, 0x46, 0x46]);

let server: MockArkServer;
let forged: Server;
let forgedUrl: string;
let closedUrl: string;

/** Every call the client makes to fetch, counted, so retries show. */
function counted(inner: typeof fetch): { fetch: typeof fetch; calls: () => number } {
  let calls = 0;
  return {
    fetch: ((input, init) => {
      calls += 1;
      return inner(input, init);
    }) as typeof fetch,
    calls: () => calls,
  };
}

function chatsSince(from: number) {
  return server.requests.slice(from).filter((r) => r.path.endsWith('/chat/completions'));
}

/** The messages (and codes) of an error and its causes, joined: what a user can see of it. */
function messageChain(error: unknown): string {
  const parts: string[] = [];
  for (let e = error as { message?: string; code?: unknown; cause?: unknown } | undefined; e && parts.length < 6; e = e.cause as typeof e) {
    parts.push(`${typeof e.code === 'string' ? `[${e.code}] ` : ''}${String(e.message)}`);
  }
  return parts.join(' <- ');
}

beforeAll(async () => {
  server = await startMockArkServer({ apiKey: API_KEY });
  // A service that answers under a key nobody agreed: as if a gateway swapped the answer.
  forged = createServer((request, response) => {
    let raw = '';
    request.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    request.on('end', () => {
      if (request.url?.endsWith('/e2e/get/certificate')) {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ Certificate: server.certificatePem }));
        return;
      }
      const content = Buffer.alloc(40, 7).toString('base64');
      if ((JSON.parse(raw) as { stream?: boolean }).stream === true) {
        response.writeHead(200, { 'content-type': 'text/event-stream' });
        response.end(`data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\ndata: [DONE]\n\n`);
      } else {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ id: 'x', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content } }] }));
      }
    });
  });
  await new Promise<void>((resolve) => forged.listen(0, '127.0.0.1', resolve));
  forgedUrl = `http://127.0.0.1:${(forged.address() as AddressInfo).port}/api/v3`;
  // A port nothing listens on: bound, read, closed.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  closedUrl = `http://127.0.0.1:${(probe.address() as AddressInfo).port}/api/v3`;
  await new Promise((resolve) => probe.close(resolve));
});
afterAll(async () => {
  forged.closeAllConnections();
  await new Promise((resolve) => forged.close(resolve));
  await server.close();
});

describe('createEncryptedFetch answers', () => {
  it('a refusal is a 400 with an OpenAI-style body and the code in a header; nothing is sent', async () => {
    const from = server.requests.length;
    const response = await createEncryptedFetch({ cacheDir: false })(`${server.url}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, ...ENCRYPTED },
      body: JSON.stringify({ model: 'mock-model', messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] }] }),
    });
    expect(response.status).toBe(400);
    expect(response.headers.get(HEADER_ARK_E2EE_ERROR)).toBe('ERR_ARK_E2EE_UNSUPPORTED_CONTENT');
    expect(response.headers.get('x-should-retry')).toBe('false');
    const body = (await response.json()) as { error: Record<string, unknown> };
    expect(body.error).toMatchObject({ type: 'invalid_request_error', code: 'ERR_ARK_E2EE_UNSUPPORTED_CONTENT', param: 'messages[0].content[0]' });
    expect(body.error['message']).toMatch(/^ERR_ARK_E2EE_UNSUPPORTED_CONTENT: .*input_audio/);
    expect(chatsSince(from)).toHaveLength(0);
  });

  it("errors: 'throw' keeps the typed error thrown", async () => {
    const refused = createEncryptedFetch({ cacheDir: false, errors: 'throw' })(`${server.url}/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer wrong', ...ENCRYPTED },
      body: JSON.stringify({ model: 'mock-model', messages: SINGLE_TURN }),
    });
    await expect(refused).rejects.toMatchObject({ code: 'ERR_ARK_E2EE_CERTIFICATE_UNAVAILABLE', status: 401 });
  });

  it('an unreachable certificate service keeps the code and address of the failure in the message', async () => {
    const error = await createEncryptedFetch({ cacheDir: false })(`${closedUrl}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, ...ENCRYPTED },
      body: JSON.stringify({ model: 'mock-model', messages: SINGLE_TURN }),
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_ARK_E2EE_CERTIFICATE_UNAVAILABLE' });
    const port = new URL(closedUrl).port;
    expect((error as Error).message).toContain(`connect ECONNREFUSED 127.0.0.1:${port}`);
  });
});

describe('openai', () => {
  const client = (apiKey: string, baseURL: string, fetchFn?: typeof fetch, maxRetries?: number) =>
    new OpenAI({ apiKey, baseURL, fetch: fetchFn, ...(maxRetries === undefined ? {} : { maxRetries }) });
  const ask = (c: OpenAI, messages: OpenAI.ChatCompletionMessageParam[] = SINGLE_TURN, headers: Record<string, string> = ENCRYPTED) =>
    c.chat.completions.create({ model: 'mock-model', messages }, { headers }).catch((e: unknown) => e);

  it('a wrong API key at the certificate service is the AuthenticationError of a wrong key without encryption', async () => {
    const plain = await ask(client('wrong', server.url, undefined, 0), SINGLE_TURN, {});
    const encrypted = await ask(client('wrong', server.url, createEncryptedFetch({ cacheDir: false }), 0));
    expect(plain).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(encrypted).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(encrypted).toMatchObject({ status: 401, code: 'ERR_ARK_E2EE_CERTIFICATE_UNAVAILABLE' });
    expect((encrypted as Error).message).toMatch(/^401 ERR_ARK_E2EE_CERTIFICATE_UNAVAILABLE: .*API key/);
  });

  it('a refused part fails at once, with default retries, as a BadRequestError naming the code', async () => {
    const { fetch: fetchFn, calls } = counted(createEncryptedFetch({ cacheDir: false }));
    const from = server.requests.length;
    const error = await ask(client(API_KEY, server.url, fetchFn), [
      { role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] },
    ]);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as Error).message).toMatch(/^400 ERR_ARK_E2EE_UNSUPPORTED_CONTENT: /);
    expect((error as InstanceType<typeof OpenAI.APIError>).headers?.get(HEADER_ARK_E2EE_ERROR)).toBe('ERR_ARK_E2EE_UNSUPPORTED_CONTENT');
    expect(calls()).toBe(1);
    expect(chatsSince(from)).toHaveLength(0);
  });

  it('an unreachable service is a connection error, retried, with the address in its cause', async () => {
    const { fetch: fetchFn, calls } = counted(createEncryptedFetch({ cacheDir: false }));
    const plain = await ask(client(API_KEY, closedUrl, undefined, 0), SINGLE_TURN, {});
    const encrypted = await ask(client(API_KEY, closedUrl, fetchFn, 1));
    expect(plain).toBeInstanceOf(OpenAI.APIConnectionError);
    expect(encrypted).toBeInstanceOf(OpenAI.APIConnectionError);
    expect(calls()).toBe(2);
    expect(messageChain(encrypted)).toContain(`ECONNREFUSED 127.0.0.1:${new URL(closedUrl).port}`);
  }, 20_000);

  it('an answer that does not decrypt is an error, streamed or not', async () => {
    const c = client(API_KEY, forgedUrl, createEncryptedFetch({ cacheDir: false }), 0);
    const whole = await ask(c);
    expect(whole).toBeInstanceOf(OpenAI.InternalServerError);
    expect((whole as Error).message).toMatch(/^502 ERR_ARK_E2EE_DECRYPTION_FAILED/);
    const stream = await c.chat.completions.create({ model: 'm', messages: SINGLE_TURN, stream: true }, { headers: ENCRYPTED });
    const streamed = await (async () => {
      for await (const chunk of stream) void chunk;
    })().then(() => 'success', (e: unknown) => e);
    expect(streamed).toMatchObject({ code: 'ERR_ARK_E2EE_DECRYPTION_FAILED' });
  });
});

describe('Vercel AI SDK', () => {
  const provider = (apiKey: string, baseURL: string, fetchFn?: typeof fetch, encrypted = true) =>
    createOpenAICompatible({ name: 'ark', baseURL, apiKey, fetch: fetchFn, headers: encrypted ? ENCRYPTED : {} });

  it('a wrong API key is the same 401 APICallError as without encryption, not retried', async () => {
    const plain = await generateText({ model: provider('wrong', server.url, undefined, false)('mock-model'), prompt: 'hi', maxRetries: 0 }).catch((e: unknown) => e);
    const { fetch: fetchFn, calls } = counted(createEncryptedFetch({ cacheDir: false }));
    const encrypted = await generateText({ model: provider('wrong', server.url, fetchFn)('mock-model'), prompt: 'hi' }).catch((e: unknown) => e);
    expect(APICallError.isInstance(plain)).toBe(true);
    expect(APICallError.isInstance(encrypted)).toBe(true);
    expect(encrypted).toMatchObject({ statusCode: 401, isRetryable: (plain as APICallError).isRetryable });
    expect((encrypted as Error).message).toContain('ERR_ARK_E2EE_CERTIFICATE_UNAVAILABLE');
    expect(calls()).toBe(1);
  });

  it('a refused audio part fails at once as a 400 naming the code; nothing is sent', async () => {
    const { fetch: fetchFn, calls } = counted(createEncryptedFetch({ cacheDir: false }));
    const from = server.requests.length;
    const error = await generateText({
      model: provider(API_KEY, server.url, fetchFn)('mock-model'),
      messages: [{ role: 'user', content: [{ type: 'file', data: AUDIO, mediaType: 'audio/wav' }] }],
    }).catch((e: unknown) => e);
    expect(APICallError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ statusCode: 400, isRetryable: false });
    expect((error as Error).message).toMatch(/ERR_ARK_E2EE_UNSUPPORTED_CONTENT: .*input_audio/);
    expect(calls()).toBe(1);
    expect(chatsSince(from)).toHaveLength(0);
  });

  it('an unreachable service stays a retryable connection error with the address in it', async () => {
    const plain = await generateText({ model: provider(API_KEY, closedUrl, undefined, false)('mock-model'), prompt: 'hi', maxRetries: 0 }).catch((e: unknown) => e);
    const encrypted = await generateText({ model: provider(API_KEY, closedUrl, createEncryptedFetch({ cacheDir: false }))('mock-model'), prompt: 'hi', maxRetries: 0 }).catch((e: unknown) => e);
    expect(APICallError.isInstance(plain) && APICallError.isInstance(encrypted)).toBe(true);
    expect((encrypted as APICallError).isRetryable).toBe(true);
    expect((plain as APICallError).isRetryable).toBe(true);
    expect(messageChain(encrypted)).toContain(`ECONNREFUSED 127.0.0.1:${new URL(closedUrl).port}`);
  });

  it('an answer that does not decrypt is an error, streamed or not', async () => {
    const model = provider(API_KEY, forgedUrl, createEncryptedFetch({ cacheDir: false }))('m');
    const whole = await generateText({ model, prompt: 'hi', maxRetries: 0 }).then(() => 'success', (e: unknown) => e);
    expect(whole).toMatchObject({ statusCode: 502 });
    expect((whole as Error).message).toContain('ERR_ARK_E2EE_DECRYPTION_FAILED');
    const result = streamText({ model, prompt: 'hi', maxRetries: 0, onError: () => undefined });
    let text = '';
    const streamed = await (async () => {
      for await (const delta of result.textStream) text += delta;
      return result.finishReason;
    })().catch((e: unknown) => e);
    expect(text).toBe('');
    expect(messageChain(streamed)).toContain('ERR_ARK_E2EE_DECRYPTION_FAILED');
  });
});

describe('LangChain', () => {
  const chat = (apiKey: string, baseURL: string, fetchFn?: typeof fetch, encrypted = true, maxRetries?: number) =>
    new ChatOpenAI({
      model: 'mock-model',
      apiKey,
      ...(maxRetries === undefined ? {} : { maxRetries }),
      configuration: { baseURL, fetch: fetchFn, defaultHeaders: encrypted ? ENCRYPTED : {} },
    });

  it('a wrong API key is the same 401 authentication error as without encryption', async () => {
    const plain = await chat('wrong', server.url, undefined, false).invoke('hi').catch((e: unknown) => e);
    const { fetch: fetchFn, calls } = counted(createEncryptedFetch({ cacheDir: false }));
    const encrypted = await chat('wrong', server.url, fetchFn).invoke('hi').catch((e: unknown) => e);
    expect(encrypted).toMatchObject({ status: 401, lc_error_code: 'MODEL_AUTHENTICATION' });
    expect((encrypted as object).constructor.name).toBe((plain as object).constructor.name);
    expect((plain as { lc_error_code?: string }).lc_error_code).toBe('MODEL_AUTHENTICATION');
    expect((encrypted as Error).message).toContain('ERR_ARK_E2EE_CERTIFICATE_UNAVAILABLE');
    expect(calls()).toBe(1);
  });

  it('a refused audio part fails at once, with default retries, as a 400 naming the code', async () => {
    const { fetch: fetchFn, calls } = counted(createEncryptedFetch({ cacheDir: false }));
    const from = server.requests.length;
    const error = await chat(API_KEY, server.url, fetchFn)
      .invoke([{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] }])
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 400 });
    expect((error as Error).message).toMatch(/ERR_ARK_E2EE_UNSUPPORTED_CONTENT: /);
    expect(calls()).toBe(1);
    expect(chatsSince(from)).toHaveLength(0);
  });

  it('an unreachable service stays a connection error with the address in it', async () => {
    const plain = await chat(API_KEY, closedUrl, undefined, false, 0).invoke('hi').catch((e: unknown) => e);
    const encrypted = await chat(API_KEY, closedUrl, createEncryptedFetch({ cacheDir: false }), true, 0).invoke('hi').catch((e: unknown) => e);
    expect((encrypted as object).constructor.name).toBe((plain as object).constructor.name);
    expect(encrypted).toBeInstanceOf(OpenAI.APIConnectionError);
    expect(messageChain(encrypted)).toContain(`ECONNREFUSED 127.0.0.1:${new URL(closedUrl).port}`);
  });

  it('an answer that does not decrypt is an error, streamed or not', async () => {
    const model = chat(API_KEY, forgedUrl, createEncryptedFetch({ cacheDir: false }), true, 0);
    const whole = await model.invoke('hi').then(() => 'success', (e: unknown) => e);
    expect(whole).toMatchObject({ status: 502 });
    expect((whole as Error).message).toContain('ERR_ARK_E2EE_DECRYPTION_FAILED');
    const streamed = await (async () => {
      for await (const chunk of await model.stream('hi')) void chunk;
    })().then(() => 'success', (e: unknown) => e);
    expect(messageChain(streamed)).toContain('ERR_ARK_E2EE_DECRYPTION_FAILED');
  });
});
