/**
 * Issue 10, the answer side, end to end: a hostile server that holds the session key answers
 * encrypted requests through createEncryptedFetch, the undici interceptor and the proxy. Text
 * that did not authenticate never reaches the caller (an injected content array, a plain
 * content_filter chunk spliced between genuine ones, a `refusal`, reasoning in plain text), an
 * event stream with no event is an error, and an answer with no end stops at its size limit
 * with the connection let go (the server sees its socket closed). The question never goes out
 * in plain text. The real openai client, Vercel AI SDK and LangChain are driven against it too.
 */
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { ChatOpenAI } from '@langchain/openai';
import { generateText, streamText } from 'ai';
import OpenAI from 'openai';
import { Agent, request as undiciRequest } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AnswerTooLargeError,
  DecryptionFailedError,
  EventStreamError,
  arkEncryption,
  createEncryptedFetch,
  type ArkEncryptionOptions,
  type PlainTextNotice,
} from '../../src/index.js';
import { startEncryptingProxy, type EncryptingProxy } from '../../src/transport/proxy.js';
import { sseEvent, startHostileServer, writeForever, type HostileExchange, type HostileServer } from '../helpers/hostile-server.js';
import { readOutcome, SECRET } from './helpers.js';

const LIMITS = { maxEventBytes: 64 * 1024, maxAnswerBytes: 256 * 1024 };
const INJECTED = 'INJECTED';

const chunk = (index: number, delta: Record<string, unknown>, finish: string | null = null): unknown => ({
  id: 'c', object: 'chat.completion.chunk', choices: [{ index, delta, finish_reason: finish }],
});
const completion = (message: Record<string, unknown>, finish = 'stop'): unknown => ({
  id: 'c', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', ...message }, finish_reason: finish }],
});

function json(response: HostileExchange['response'], body: unknown): void {
  response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
function sse(response: HostileExchange['response'], text: string): void {
  response.writeHead(200, { 'content-type': 'text/event-stream' }).end(text);
}

/** What the hostile server answers, by the request's model. */
const ANSWERS: Record<string, (exchange: HostileExchange) => void> = {
  'inject-json': ({ response }) => json(response, completion({ content: [{ type: 'text', text: INJECTED }] })),
  'refusal-json': ({ response, seal }) => json(response, completion({ content: seal('fine'), refusal: INJECTED })),
  'reasoning-json': ({ response, seal }) => json(response, completion({ content: seal('fine'), reasoning_content: INJECTED })),
  'inject-stream': ({ response, seal }) =>
    sse(response, sseEvent(chunk(0, { role: 'assistant', content: seal('Hello') })) +
      sseEvent(chunk(0, { content: [{ type: 'text', text: INJECTED }] })) +
      sseEvent(chunk(0, { content: seal(' world') })) + 'data: [DONE]\n\n'),
  splice: ({ response, seal }) =>
    sse(response, sseEvent(chunk(0, { role: 'assistant', content: seal('Hello') })) +
      sseEvent(chunk(0, { content: INJECTED }, 'content_filter')) +
      sseEvent(chunk(0, { content: seal(' world') }, 'stop')) + 'data: [DONE]\n\n'),
  'reasoning-field-stream': ({ response, seal }) =>
    sse(response, sseEvent(chunk(0, { role: 'assistant', content: seal('Hello') })) +
      sseEvent(chunk(0, { reasoning: INJECTED })) + sseEvent(chunk(0, { content: seal(' world') }, 'stop')) + 'data: [DONE]\n\n'),
  'reasoning-stream': ({ response, seal }) =>
    sse(response, sseEvent(chunk(0, { role: 'assistant', content: seal('Hello') })) +
      sseEvent(chunk(0, { reasoning_content: INJECTED })) + 'data: [DONE]\n\n'),
  'filtered-last': ({ response, seal }) =>
    sse(response, sseEvent(chunk(0, { role: 'assistant', content: seal('Hello') })) +
      sseEvent(chunk(0, { content: 'filtered notice' }, 'content_filter')) + 'data: [DONE]\n\n'),
  'sse-json': ({ response }) => sse(response, JSON.stringify(completion({ content: INJECTED }))),
  'sse-empty': ({ response }) => sse(response, ''),
  'endless-line': ({ response }) => {
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    response.write('data: ');
    writeForever(response, Buffer.alloc(16 * 1024, 'A'));
  },
  'endless-json': ({ response }) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.write('{"choices":[{"message":{"content":"');
    writeForever(response, Buffer.alloc(16 * 1024, 'A'));
  },
  'announced-too-large': ({ response }) => {
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': String(1 << 30) });
    response.write('{"choices":');
  },
};

let server: HostileServer;
let proxy: EncryptingProxy;
const notices: PlainTextNotice[] = [];

beforeAll(async () => {
  server = await startHostileServer((exchange) => {
    const model = (JSON.parse(exchange.body) as { model: string }).model;
    ANSWERS[model]!(exchange);
  });
  proxy = await startEncryptingProxy({ upstream: server.url, ...options() });
});
afterAll(async () => {
  await proxy.close();
  await server.close();
});

function options(): ArkEncryptionOptions {
  return { certificate: server.pem, cacheDir: false, sessionPool: 0, onPlainText: (n) => notices.push(n), ...LIMITS };
}

function chatBody(model: string, stream: boolean): string {
  return JSON.stringify({ model, stream, messages: [{ role: 'user', content: SECRET }] });
}
const HEADERS = { 'content-type': 'application/json', 'x-is-encrypted': 'true', authorization: 'Bearer k' };

interface Result {
  text: string;
  error: unknown;
}

type Transport = (model: string, stream: boolean) => Promise<Result>;

const viaFetch: Transport = async (model, stream) => {
  const fetchFn = createEncryptedFetch(options());
  try {
    const response = await fetchFn(`${server.url}/chat/completions`, { method: 'POST', headers: HEADERS, body: chatBody(model, stream) });
    return await readOutcome(response.body!);
  } catch (error) {
    return { text: '', error };
  }
};

const viaUndici: Transport = async (model, stream) => {
  const dispatcher = new Agent().compose(arkEncryption(options()));
  try {
    const response = await undiciRequest(`${server.url}/chat/completions`, { method: 'POST', headers: HEADERS, body: chatBody(model, stream), dispatcher });
    let text = '';
    try {
      for await (const part of response.body) text += (part as Buffer).toString('utf8');
    } catch (error) {
      return { text, error };
    }
    return { text, error: undefined };
  } catch (error) {
    return { text: '', error };
  }
};

/** Through the proxy the error is an error answer (non-streamed) or a cut stream. */
const viaProxy: Transport = async (model, stream) => {
  try {
    const response = await fetch(`${proxy.url}/chat/completions`, { method: 'POST', headers: HEADERS, body: chatBody(model, stream) });
    const outcome = await readOutcome(response.body!);
    if (response.status >= 400) return { text: outcome.text, error: JSON.parse(outcome.text) as unknown };
    return outcome;
  } catch (error) {
    return { text: '', error };
  }
};

/** Through the proxy, the library's error code as the client sees it, or `cut` for a broken stream. */
function proxyCode(error: unknown): string | undefined {
  if (error === undefined) return undefined;
  const code = (error as { error?: { code?: string } }).error?.code;
  return code ?? 'cut';
}

const TRANSPORTS: [string, Transport][] = [['createEncryptedFetch', viaFetch], ['undici interceptor', viaUndici], ['proxy', viaProxy]];

/** The answer failed with `type` (or, through the proxy, its code or a cut stream); no injected text came out. */
function expectRefused(name: string, result: Result, type: new (...args: never[]) => Error, streamed: boolean): void {
  expect(result.text).not.toContain(INJECTED);
  if (name === 'proxy') {
    const code = proxyCode(result.error);
    expect(code).toBe(streamed ? 'cut' : (type as unknown as { code: string }).code);
    return;
  }
  expect(result.error).toBeInstanceOf(type);
}

describe.each(TRANSPORTS)('a hostile answer through %s', (name, transport) => {
  it('a content array in a non-streamed answer is a DecryptionFailedError', async () => {
    const from = server.bodies.length;
    expectRefused(name, await transport('inject-json', false), DecryptionFailedError, false);
    // The question left encrypted.
    expect(server.bodies.slice(from).join('')).not.toContain('secret');
  });

  it('a refusal, or plain reasoning_content, in a non-streamed answer is a DecryptionFailedError', async () => {
    expectRefused(name, await transport('refusal-json', false), DecryptionFailedError, false);
    expectRefused(name, await transport('reasoning-json', false), DecryptionFailedError, false);
  });

  it('a content array in a stream is an EventStreamError after the genuine chunk', async () => {
    const result = await transport('inject-stream', true);
    expectRefused(name, result, EventStreamError, true);
    expect(result.text).toContain('Hello');
    expect(result.text).not.toContain('world');
  });

  it('plain content_filter text spliced between genuine chunks is an EventStreamError', async () => {
    const result = await transport('splice', true);
    // Held back until the stream showed it was not the last content: it never came out.
    expect(result.text).not.toContain(INJECTED);
    expect(result.text).toContain('Hello');
    expect(result.text).not.toContain('world');
    if (name === 'proxy') expect(proxyCode(result.error)).toBe('cut');
    else expect(result.error).toBeInstanceOf(EventStreamError);
  });

  it('plain reasoning_content in a stream is a DecryptionFailedError', async () => {
    expectRefused(name, await transport('reasoning-stream', true), DecryptionFailedError, true);
  });

  it('content_filter text as the last content passes, and onPlainText hears of it', async () => {
    const before = notices.length;
    const result = await transport('filtered-last', true);
    expect(result.error).toBeUndefined();
    expect(result.text).toContain('Hello');
    expect(result.text).toContain('filtered notice');
    expect(notices.slice(before)).toEqual([{ choiceIndex: 0, field: 'content', text: 'filtered notice', reason: 'content_filter' }]);
  });

  it('an event stream with no event (a JSON body, or nothing) is an EventStreamError', async () => {
    for (const model of ['sse-json', 'sse-empty']) {
      const result = await transport(model, true);
      expectRefused(name, result, EventStreamError, true);
    }
  });

  it('an SSE line with no end stops at maxEventBytes: AnswerTooLargeError, and the server sees its connection closed', async () => {
    const closed = server.nextClose();
    const result = await transport('endless-line', true);
    expectRefused(name, result, AnswerTooLargeError, true);
    await closed;
  });

  it('a JSON answer with no end stops at maxAnswerBytes: AnswerTooLargeError, and the server sees its connection closed', async () => {
    const closed = server.nextClose();
    const result = await transport('endless-json', false);
    expectRefused(name, result, AnswerTooLargeError, false);
    await closed;
  });

  it('a JSON answer that announces more than maxAnswerBytes is refused before it is read', async () => {
    const closed = server.nextClose();
    expectRefused(name, await transport('announced-too-large', false), AnswerTooLargeError, false);
    await closed;
  });
});

describe('size limit options', () => {
  it('a limit that is not a whole number ≥ 1 fails when the client is made', () => {
    for (const bad of [Number.NaN, 0, -5, 2.5]) {
      expect(() => createEncryptedFetch({ ...options(), maxAnswerBytes: bad })).toThrow(RangeError);
      expect(() => createEncryptedFetch({ ...options(), maxEventBytes: bad })).toThrow(/maxEventBytes/);
      expect(() => new Agent().compose(arkEncryption({ ...options(), maxAnswerBytes: bad }))).toThrow(RangeError);
    }
  });
});

describe('the openai client never shows injected text as the model\'s answer', () => {
  const client = (): OpenAI =>
    new OpenAI({ apiKey: 'k', baseURL: server.url, maxRetries: 0, fetch: createEncryptedFetch(options()) });
  const ENCRYPTED = { headers: { 'x-is-encrypted': 'true' } };
  const messages = [{ role: 'user' as const, content: SECRET }];

  it('non-streamed: a content array, a refusal: the call rejects with DecryptionFailedError', async () => {
    for (const model of ['inject-json', 'refusal-json']) {
      const outcome = await client().chat.completions.create({ model, messages }, ENCRYPTED).then(
        (completion) => ({ completion, error: undefined }),
        (error: unknown) => ({ completion: undefined, error }),
      );
      expect(outcome.completion).toBeUndefined();
      // openai wraps what fetch throws in its APIConnectionError, with the library's error as cause.
      expect(outcome.error).toBeInstanceOf(OpenAI.APIConnectionError);
      expect((outcome.error as Error).cause).toBeInstanceOf(DecryptionFailedError);
    }
  });

  it('streamed: the genuine chunk comes out, then the iteration throws; the injected text never does', async () => {
    for (const [model, type] of [['inject-stream', EventStreamError], ['splice', EventStreamError], ['reasoning-stream', DecryptionFailedError]] as const) {
      const seen: unknown[] = [];
      let error: unknown;
      try {
        const stream = await client().chat.completions.create({ model, messages, stream: true }, ENCRYPTED);
        for await (const part of stream) seen.push(part.choices[0]?.delta);
      } catch (caught) {
        error = caught;
      }
      expect(error, model).toBeInstanceOf(type);
      expect(JSON.stringify(seen), `${model} ${JSON.stringify(seen)}`).not.toContain(INJECTED);
      expect(seen).toContainEqual(expect.objectContaining({ content: 'Hello' }));
    }
  });
});

describe('the Vercel AI SDK and LangChain never show injected text either', () => {
  const provider = () =>
    createOpenAICompatible({ name: 'ark', baseURL: server.url, apiKey: 'k', fetch: createEncryptedFetch(options()), headers: { 'x-is-encrypted': 'true' } });

  it('AI SDK generateText: a content array is an error, not the answer', async () => {
    const outcome = await generateText({ model: provider()('inject-json'), prompt: SECRET, maxRetries: 0 }).then(
      (result) => ({ text: result.text, error: undefined }),
      (error: unknown) => ({ text: '', error }),
    );
    expect(outcome.error).toBeDefined();
    expect(outcome.text).not.toContain(INJECTED);
  });

  it('AI SDK streamText: injected content, a spliced content_filter text, a plain `reasoning` end in an error, never in a delta', async () => {
    for (const model of ['inject-stream', 'splice', 'reasoning-stream', 'reasoning-field-stream']) {
      const result = streamText({ model: provider()(model), prompt: SECRET, maxRetries: 0, onError: () => {} });
      const parts: { type: string; text?: string }[] = [];
      let thrown: unknown;
      try {
        for await (const part of result.fullStream) parts.push(part as { type: string; text?: string });
      } catch (caught) {
        thrown = caught;
      }
      // The SDK reports a failing stream as an error part, or throws it from the iteration.
      expect(thrown !== undefined || parts.some((part) => part.type === 'error'), model).toBe(true);
      const shown = parts.filter((part) => part.type === 'text-delta' || part.type === 'reasoning-delta').map((part) => part.text).join('');
      // (The SDK's own pipes may drop the genuine chunk delivered just before the error.)
      expect(shown, model).not.toContain(INJECTED);
    }
  });

  it('LangChain invoke and stream: the call fails, the injected text never comes out', async () => {
    const chat = (model: string) =>
      new ChatOpenAI({
        model,
        apiKey: 'k',
        maxRetries: 0,
        configuration: { baseURL: server.url, fetch: createEncryptedFetch(options()), defaultHeaders: { 'x-is-encrypted': 'true' } },
      });
    await expect(chat('inject-json').invoke([['human', SECRET]])).rejects.toThrow();
    for (const model of ['inject-stream', 'splice']) {
      let shown = '';
      let error: unknown;
      try {
        for await (const part of await chat(model).stream([['human', SECRET]])) shown += JSON.stringify(part.content);
      } catch (caught) {
        error = caught;
      }
      expect(error, model).toBeDefined();
      expect(shown, model).not.toContain(INJECTED);
    }
  });
});
