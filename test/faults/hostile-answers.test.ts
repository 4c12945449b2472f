/**
 * Issue 10, the answer side, end to end: a hostile server that holds the session key answers
 * encrypted requests through createEncryptedFetch, the undici interceptor and the proxy. Text
 * that did not authenticate never reaches the caller (an injected content array, a plain
 * content_filter chunk spliced between genuine ones, a `refusal`, reasoning in plain text), an
 * event stream with no event is an error, and an answer with no end stops at its size limit
 * with the connection let go (the server sees its socket closed). The question never goes out
 * in plain text. (hostile-clients.test.ts: the same through openai, the AI SDK and LangChain.)
 */
import { Agent, request as undiciRequest } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InvalidOptionError,
  AnswerTooLargeError,
  DecryptionFailedError,
  EventStreamError,
  arkEncryption,
  createEncryptedFetch,
  type ArkEncryptionOptions,
  type PlainTextNotice,
} from '../../src/index.js';
import { startEncryptingProxy, type EncryptingProxy } from '../../src/transport/proxy.js';
import type { HostileServer } from '../helpers/hostile-server.js';
import { readOutcome, SECRET } from './helpers.js';
import { INJECTED, LIMITS, startScenarioServer } from './hostile-scenarios.js';

let server: HostileServer;
let proxy: EncryptingProxy;
const notices: PlainTextNotice[] = [];

beforeAll(async () => {
  server = await startScenarioServer();
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
  // The typed errors themselves (the default answers them as HTTP errors: tested below).
  const fetchFn = createEncryptedFetch({ ...options(), errors: 'throw' });
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

describe('createEncryptedFetch with its default errors: \'response\'', () => {
  it('an answer that does not authenticate comes back as a 502 naming the code; the injected text does not', async () => {
    const fetchFn = createEncryptedFetch(options());
    for (const model of ['inject-json', 'refusal-json', 'reasoning-json']) {
      const response = await fetchFn(`${server.url}/chat/completions`, { method: 'POST', headers: HEADERS, body: chatBody(model, false) });
      expect(response.status, model).toBe(502);
      expect(response.headers.get('x-ark-e2ee-error')).toBe('ERR_ARK_E2EE_DECRYPTION_FAILED');
      expect(await response.text()).not.toContain(INJECTED);
    }
  });

  it('an answer past maxAnswerBytes is still thrown (AnswerTooLargeError), the connection let go', async () => {
    const closed = server.nextClose();
    const fetchFn = createEncryptedFetch(options());
    const error = await fetchFn(`${server.url}/chat/completions`, { method: 'POST', headers: HEADERS, body: chatBody('endless-json', false) }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AnswerTooLargeError);
    await closed;
  });
});

describe('size limit options', () => {
  it('a limit that is not a whole number ≥ 1 fails when the client is made', () => {
    for (const bad of [Number.NaN, 0, -5, 2.5]) {
      expect(() => createEncryptedFetch({ ...options(), maxAnswerBytes: bad })).toThrow(InvalidOptionError);
      expect(() => createEncryptedFetch({ ...options(), maxEventBytes: bad })).toThrow(/maxEventBytes/);
      expect(() => new Agent().compose(arkEncryption({ ...options(), maxAnswerBytes: bad }))).toThrow(InvalidOptionError);
    }
  });
});

