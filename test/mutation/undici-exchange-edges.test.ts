/**
 * The undici interceptor's exchange (src/transport/undici/exchange.ts) driven by a scripted
 * dispatch in place of undici and a hand-written handler, as a mutation run found it untested:
 * what goes down (headers, a byte stream), the order and the timing of what the caller's handler
 * gets (informational answers, errors at once or, for an event stream, after its start), nothing
 * after its last word, aborts through its controller at each phase, handlers that lack methods
 * (every DispatchHandler method is optional), upgrades, and event streams that are not valid
 * UTF-8. The crypto is real: the script seals answers as the service does
 * (test/helpers/server-crypto.ts). test/transport/undici.test.ts and
 * test/mutation/undici-answers.test.ts drive the same code through a real undici Agent.
 */
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { afterEach, describe, expect, it, vi, type Mock } from 'vitest';
import {
  AnswerTooLargeError,
  DecryptionFailedError,
  EventStreamError,
  ResendRefusedError,
  UnsupportedRequestError,
} from '../../src/errors.js';
import { arkEncryption } from '../../src/index.js';
import { loadNoble } from '../../src/crypto/select.js';
import { ArkEncryptor } from '../../src/transport/encryptor.js';
import { EncryptedExchange } from '../../src/transport/undici/exchange.js';
import { makeCertificate } from '../helpers/make-certificate.js';
import { deriveSession, serverEncrypt } from '../helpers/server-crypto.js';

type Handler = Dispatcher.DispatchHandler;
type Controller = Dispatcher.DispatchController;
type Opts = Dispatcher.DispatchOptions;

const { pem, privateKey } = makeCertificate();

afterEach(() => {
  vi.unstubAllGlobals();
});

// ---------------------------------------------------------------------------------------------
// The layer below: a scripted dispatch, and the controller it hands the exchange.

interface FakeController extends Controller {
  abort: Mock<(reason: Error) => void>;
}

/**
 * A controller of the layer below. `report`: what its abort does besides being recorded; undici
 * ends an aborted request through the handler's onResponseError, which a test can play here.
 */
function fakeController(report?: (reason: Error) => void): FakeController {
  const abort = vi.fn((reason: Error) => report?.(reason));
  return { abort, pause: vi.fn(), resume: vi.fn(), aborted: false, paused: false, reason: null } as unknown as FakeController;
}

interface Below {
  opts: Opts;
  headers: Record<string, string>;
  /** The exchange, as the handler the layer below was given. */
  exchange: Handler;
  controller: FakeController;
  /** Encrypts a text under the request's session (a genuine ciphertext). */
  seal: (text: string) => string;
}

function interceptor(options: Record<string, unknown> = {}, throwing?: Error) {
  const dispatched: Below[] = [];
  const dispatch = ((opts: Opts, exchange: Handler) => {
    if (throwing) throw throwing;
    const headers = opts.headers as Record<string, string>;
    const session = deriveSession(privateKey, headers['x-session-token']!);
    dispatched.push({
      opts,
      headers,
      exchange,
      controller: fakeController(),
      seal: (text) => serverEncrypt(session.key, session.nonce, text),
    });
    return true;
  }) as Dispatcher.Dispatch;
  const intercept = arkEncryption({ certificate: pem, cacheDir: false, sessionPool: 0, ...options })(dispatch);
  return { intercept, dispatched };
}

const chatHeaders = { 'content-type': 'application/json', authorization: 'Bearer k', 'x-is-encrypted': 'true' };

function chatOpts(extra: Partial<Record<keyof Opts, unknown>> = {}): Opts {
  return {
    origin: 'https://ark.example',
    path: '/api/v3/chat/completions',
    method: 'POST',
    headers: chatHeaders,
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'secret words' }] }),
    ...extra,
  } as Opts;
}

/** Sends one encrypted request through the interceptor; resolves once it went down. */
async function send(handler: Handler, options: Record<string, unknown> = {}, opts: Opts = chatOpts()): Promise<Below> {
  const { intercept, dispatched } = interceptor(options);
  expect(intercept(opts, handler)).toBe(true);
  await vi.waitFor(() => expect(dispatched).toHaveLength(1));
  return dispatched[0]!;
}

const jsonAnswer = (below: Below, content = 'hello'): Buffer =>
  Buffer.from(JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: below.seal(content) } }] }), 'utf8');

const sseEvent = (below: Below, content: string): string =>
  `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: below.seal(content) } }] })}\n\n`;

const SSE = { 'content-type': 'text/event-stream' };
const JSON_TYPE = { 'content-type': 'application/json' };

/** Plays a whole answer from below: start (after onRequestStart), the chunks, end. */
function answer(below: Below, status: number, headers: Record<string, string>, chunks: Array<string | Buffer>): void {
  const { exchange, controller } = below;
  exchange.onRequestStart?.(controller, {});
  exchange.onResponseStart?.(controller, status, headers, 'Status');
  for (const chunk of chunks) exchange.onResponseData?.(controller, Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, 'utf8'));
  exchange.onResponseEnd?.(controller, {});
}

/** Lets every pending immediate run (errors of an event stream come after one). */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

// ---------------------------------------------------------------------------------------------
// The caller's side: a handler that writes down what it gets.

interface Seen {
  log: string[];
  errors: Error[];
  /** The controller the handler got at onRequestStart. */
  controller?: Controller;
  /** The decrypted data, joined. */
  data: string;
  /** Every data chunk's length, to see that no empty chunk came. */
  chunkLengths: number[];
}

type Hooks = Partial<Handler>;

function recorder(hooks: Hooks = {}, without: Array<keyof Handler> = []): { handler: Handler; seen: Seen } {
  const seen: Seen = { log: [], errors: [], data: '', chunkLengths: [] };
  const handler: Handler = {
    onRequestStart(controller, context) {
      seen.controller = controller;
      seen.log.push('request-start');
      hooks.onRequestStart?.(controller, context);
    },
    onRequestUpgrade(controller, status, headers, socket) {
      seen.log.push(`upgrade ${status}`);
      hooks.onRequestUpgrade?.(controller, status, headers, socket);
    },
    onResponseStart(controller, status, headers, message) {
      seen.log.push(`start ${status}`);
      hooks.onResponseStart?.(controller, status, headers, message);
    },
    onResponseData(controller, chunk) {
      seen.log.push('data');
      seen.data += chunk.toString('utf8');
      seen.chunkLengths.push(chunk.byteLength);
      hooks.onResponseData?.(controller, chunk);
    },
    onResponseEnd(controller, trailers) {
      seen.log.push('end');
      hooks.onResponseEnd?.(controller, trailers);
    },
    onResponseError(controller, error) {
      seen.log.push(`error ${(error as { code?: string }).code ?? error.message}`);
      seen.errors.push(error);
      hooks.onResponseError?.(controller, error);
    },
  };
  for (const name of without) delete handler[name];
  return { handler, seen };
}

/** The `delta.content` of a decrypted event stream, joined. */
function streamedContent(text: string): string {
  let content = '';
  for (const line of text.split('\n')) {
    if (!line.startsWith('data: ')) continue;
    const chunk = JSON.parse(line.slice(6)) as { choices: Array<{ delta?: { content?: string } }> };
    for (const choice of chunk.choices) content += choice.delta?.content ?? '';
  }
  return content;
}

const messageContent = (text: string): string =>
  (JSON.parse(text) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content;

// ---------------------------------------------------------------------------------------------

/**
 * Replaces the global `name` by one that defers as it does but records what its callbacks throw
 * (an error thrown there would otherwise end the test run); gives the records and the original.
 */
function recordThrowsDeferredBy(name: 'queueMicrotask' | 'setImmediate'): { thrown: unknown[]; real: (callback: () => void) => unknown } {
  const real = (globalThis[name] as (callback: () => void) => unknown).bind(globalThis);
  const thrown: unknown[] = [];
  vi.stubGlobal(name, (callback: () => void) =>
    real(() => {
      try {
        callback();
      } catch (error) {
        thrown.push(error);
      }
    }),
  );
  return { thrown, real };
}

describe('what goes down', () => {
  it('asks for an uncompressed answer, drops transfer-encoding, and sends a byte stream of the announced length', async () => {
    const { handler } = recorder();
    const below = await send(handler, {}, chatOpts({ headers: { ...chatHeaders, 'transfer-encoding': 'chunked', 'accept-encoding': 'gzip, br' } }));
    expect(below.headers['accept-encoding']).toBe('identity');
    expect(below.headers).not.toHaveProperty('transfer-encoding');
    const body = below.opts.body as Readable;
    // A stream of bytes (not of objects), as a request body is read by undici and interceptors.
    expect(body.readableObjectMode).toBe(false);
    const bytes: Buffer[] = [];
    for await (const chunk of body) bytes.push(chunk as Buffer);
    const sent = Buffer.concat(bytes);
    expect(below.headers['content-length']).toBe(String(sent.byteLength));
    expect(sent.toString('utf8')).not.toContain('secret words');
  });

  it('the interceptor tells the caller it is not busy, whether it sends or refuses a request', () => {
    // Dispatcher.dispatch returns false only when the caller must wait for 'drain', which an
    // interceptor that sends later never emits.
    const { intercept } = interceptor();
    expect(intercept(chatOpts(), recorder().handler)).toBe(true);
    expect(intercept(chatOpts({ headers: { ...chatHeaders, 'x-is-encrypted': 'maybe' } }), recorder().handler)).toBe(true);
    const first = recorder().handler;
    expect(intercept(chatOpts(), first)).toBe(true);
    // The same handler again, with a Range header: a refused resend.
    expect(intercept(chatOpts({ headers: { ...chatHeaders, range: 'bytes=10-' } }), first)).toBe(true);
  });
});

describe('errors before anything is sent come at once', () => {
  it('a request refused by the interceptor ends in its handler before dispatch returns', () => {
    const { intercept, dispatched } = interceptor();
    const { handler, seen } = recorder();
    intercept(chatOpts({ headers: { ...chatHeaders, 'x-is-encrypted': 'maybe' } }), handler);
    expect(seen.log).toEqual(['request-start', 'error ERR_ARK_E2EE_UNSUPPORTED_REQUEST']);
    expect(seen.errors[0]).toBeInstanceOf(UnsupportedRequestError);
    expect(dispatched).toHaveLength(0);
  });

  it('an abort in onRequestStart ends the exchange before dispatch returns, and nothing goes down', async () => {
    const reason = new Error('caller gave up at once');
    const { intercept, dispatched } = interceptor();
    const { handler, seen } = recorder({ onRequestStart: (controller) => controller.abort(reason) });
    const body = Readable.from([Buffer.from(JSON.stringify({ model: 'm', messages: [] }))]);
    intercept(chatOpts({ body }), handler);
    expect(seen.log).toEqual(['request-start', 'error caller gave up at once']);
    expect(seen.errors[0]).toBe(reason);
    await settle();
    expect(body.destroyed).toBe(true);
    expect(dispatched).toHaveLength(0);
    expect(seen.log).toHaveLength(2);
  });

  it('an abort at any moment before dispatch keeps the request from going down', async () => {
    // The abort is played from the last step of the preparation (reading the options for the
    // request that goes down), after 0, 1, 2, … microtasks: each moment between the preparation's
    // end and the dispatch is met once.
    const moments: Array<'before' | 'after'> = [];
    for (let depth = 0; depth < 12; depth += 1) {
      const reason = new Error(`abort after ${depth} microtasks`);
      const { intercept, dispatched } = interceptor();
      const { handler, seen } = recorder();
      const opts = chatOpts();
      let armed = true;
      let downBefore = -1;
      Object.defineProperty(opts, 'tap', {
        enumerable: true,
        get() {
          if (!armed) return undefined;
          armed = false;
          let left = depth;
          const step = (): void => {
            if (left-- > 0) {
              queueMicrotask(step);
              return;
            }
            downBefore = dispatched.length;
            seen.controller!.abort(reason);
          };
          step();
          return undefined;
        },
      });
      intercept(opts, handler);
      await vi.waitFor(() => expect(downBefore).not.toBe(-1));
      await settle();
      if (downBefore === 0) {
        moments.push('before');
        expect(dispatched, `depth ${depth}`).toHaveLength(0);
        expect(seen.log, `depth ${depth}`).toEqual(['request-start', `error ${reason.message}`]);
        expect(seen.errors[0]).toBe(reason);
      } else {
        moments.push('after');
        expect(dispatched, `depth ${depth}`).toHaveLength(1);
      }
    }
    // Both sides of the dispatch were met.
    expect(moments[0]).toBe('before');
    expect(moments.at(-1)).toBe('after');
  });

  it('an error thrown by the dispatch below is the error the handler gets', async () => {
    const thrown = new Error('dispatcher is destroyed');
    const { intercept } = interceptor({}, thrown);
    const { handler, seen } = recorder();
    intercept(chatOpts(), handler);
    await vi.waitFor(() => expect(seen.errors).toHaveLength(1));
    expect(seen.errors[0]).toBe(thrown);
    expect(seen.log).toEqual(['request-start', 'error dispatcher is destroyed']);
  });

  it('an error thrown by the handler itself is not swallowed: it surfaces as undici surfaces it', async () => {
    const { thrown: surfaced } = recordThrowsDeferredBy('queueMicrotask');
    const handlerFailure = new Error('the handler broke');
    const { intercept } = interceptor({}, new Error('dispatcher is destroyed'));
    const { handler } = recorder({
      onResponseError: () => {
        throw handlerFailure;
      },
    });
    intercept(chatOpts(), handler);
    await vi.waitFor(() => expect(surfaced).toHaveLength(1));
    expect(surfaced[0]).toBe(handlerFailure);
  });

  it('an exchange made without `again` is a first send: an empty body gets the encryptor’s refusal', async () => {
    const encryptor = new ArkEncryptor({ certificate: pem, cacheDir: false, sessionPool: 0 }, () => Promise.reject(new Error('no http')), loadNoble);
    const dispatch = vi.fn(() => true);
    const { handler, seen } = recorder();
    new EncryptedExchange(encryptor, dispatch as unknown as Dispatcher.Dispatch, chatOpts({ body: '' }), handler).start();
    await vi.waitFor(() => expect(seen.errors).toHaveLength(1));
    expect(seen.errors[0]).toBeInstanceOf(UnsupportedRequestError);
    expect(seen.errors[0]!.message).not.toContain('retry or redirect');
    expect(dispatch).not.toHaveBeenCalled();
  });
});

describe('the answer, in order', () => {
  it('an informational answer passes before the decrypted one', async () => {
    const { handler, seen } = recorder();
    const below = await send(handler);
    const { exchange, controller } = below;
    exchange.onRequestStart?.(controller, {});
    exchange.onResponseStart?.(controller, 103, { link: '</style.css>; rel=preload' }, 'Early Hints');
    exchange.onResponseStart?.(controller, 200, JSON_TYPE, 'OK');
    exchange.onResponseData?.(controller, jsonAnswer(below));
    exchange.onResponseEnd?.(controller, {});
    expect(seen.log).toEqual(['request-start', 'start 103', 'start 200', 'data', 'end']);
    expect(messageContent(seen.data)).toBe('hello');
  });

  it.each([300, 205])('a %i passes as it is, not decrypted', async (status) => {
    const { handler, seen } = recorder();
    const below = await send(handler);
    const body = status === 205 ? [] : ['<a href="/one">one</a>'];
    answer(below, status, { 'content-type': 'text/html' }, body);
    expect(seen.log).toEqual(['request-start', `start ${status}`, ...body.map(() => 'data'), 'end']);
    expect(seen.data).toBe(body.join(''));
  });

  it('a JSON answer announced over maxAnswerBytes fails at its start, and its connection is aborted', async () => {
    const { handler, seen } = recorder();
    const below = await send(handler, { maxAnswerBytes: 100 });
    const { exchange, controller } = below;
    exchange.onRequestStart?.(controller, {});
    exchange.onResponseStart?.(controller, 200, { ...JSON_TYPE, 'content-length': '101' }, 'OK');
    // At once, not after an immediate: only an event stream's errors wait for its start.
    expect(seen.log).toEqual(['request-start', 'error ERR_ARK_E2EE_ANSWER_TOO_LARGE']);
    expect(seen.errors[0]).toBeInstanceOf(AnswerTooLargeError);
    expect(controller.abort).toHaveBeenCalledWith(seen.errors[0]);
  });

  it('a layer below that starts the answer without onRequestStart still has a refused answer aborted', async () => {
    const { handler, seen } = recorder();
    const below = await send(handler);
    below.exchange.onResponseStart?.(below.controller, 200, { ...JSON_TYPE, 'content-encoding': 'gzip' }, 'OK');
    expect(seen.errors[0]).toBeInstanceOf(DecryptionFailedError);
    expect(below.controller.abort).toHaveBeenCalledTimes(1);
    expect(below.controller.abort).toHaveBeenCalledWith(seen.errors[0]);
  });

  it('a JSON answer that is not JSON fails, with no end after the error', async () => {
    const { handler, seen } = recorder();
    const below = await send(handler);
    answer(below, 200, JSON_TYPE, ['<html>not json</html>']);
    expect(seen.log).toEqual(['request-start', 'error ERR_ARK_E2EE_DECRYPTION_FAILED']);
    expect(seen.errors[0]!.message).toBe('the answer to an encrypted request is not JSON, so it cannot be checked; not trusting it');
  });
});

describe('nothing after the last word', () => {
  it('after the request was refused for going out twice, a whole answer reaches nothing', async () => {
    const { handler, seen } = recorder();
    const below = await send(handler);
    const { exchange, controller } = below;
    exchange.onRequestStart?.(controller, {});
    exchange.onRequestStart?.(controller, {});
    expect(seen.log).toEqual(['request-start', 'error ERR_ARK_E2EE_RESEND_REFUSED']);
    expect(seen.errors[0]).toBeInstanceOf(ResendRefusedError);
    expect(controller.abort).toHaveBeenCalledWith(seen.errors[0]);
    exchange.onResponseStart?.(controller, 502, { 'content-type': 'text/html' }, 'Bad Gateway');
    exchange.onResponseData?.(controller, Buffer.from('bad gateway'));
    exchange.onResponseEnd?.(controller, {});
    exchange.onResponseError?.(controller, new Error('late'));
    expect(seen.log).toEqual(['request-start', 'error ERR_ARK_E2EE_RESEND_REFUSED']);
  });

  it('after a clean end, an error from below reaches nothing', async () => {
    const { handler, seen } = recorder();
    const below = await send(handler);
    answer(below, 200, JSON_TYPE, [jsonAnswer(below)]);
    below.exchange.onResponseError?.(below.controller, new Error('socket closed after the end'));
    await settle();
    expect(seen.log).toEqual(['request-start', 'start 200', 'data', 'end']);
  });

  it('a handler whose onResponseEnd throws gets what it threw as the last word', async () => {
    // undici's retry handler throws in onResponseEnd to ask for a retry.
    const thrown = new Error('retry, please');
    const { handler, seen } = recorder({
      onResponseEnd: () => {
        throw thrown;
      },
    });
    const below = await send(handler);
    answer(below, 200, JSON_TYPE, [jsonAnswer(below)]);
    expect(seen.log).toEqual(['request-start', 'start 200', 'data', 'end', 'error retry, please']);
    expect(seen.errors[0]).toBe(thrown);
  });
});

describe('aborts through the controller the handler got', () => {
  it('an abort in onResponseStart of a JSON answer gives no data, and the abort reason', async () => {
    const reason = new Error('seen enough');
    const { handler, seen } = recorder({ onResponseStart: (controller) => controller.abort(reason) });
    const below = await send(handler);
    answer(below, 200, JSON_TYPE, [jsonAnswer(below)]);
    expect(seen.log).toEqual(['request-start', 'start 200', 'error seen enough']);
    expect(seen.errors[0]).toBe(reason);
    expect(below.controller.abort).toHaveBeenCalledWith(reason);
  });

  it.each([
    ['an answer that passes', 502, { 'content-type': 'text/html' }],
    ['a JSON answer', 200, JSON_TYPE],
    ['an event stream', 200, SSE],
  ])('an abort in onResponseData of %s ends it with the abort reason, not an end', async (_kind, status, headers) => {
    const reason = new Error('seen enough');
    const { handler, seen } = recorder({ onResponseData: (controller) => controller.abort(reason) });
    const below = await send(handler);
    const chunk = status === 502 ? 'bad gateway' : headers === SSE ? sseEvent(below, 'one') : jsonAnswer(below);
    // The layer below does not report the abort itself: it still ends the answer.
    answer(below, status, headers, [chunk]);
    await settle();
    expect(seen.log).toEqual(['request-start', `start ${status}`, 'data', 'error seen enough']);
    expect(seen.errors[0]).toBe(reason);
    expect(below.controller.abort).toHaveBeenCalledWith(reason);
  });

  it('an abort while a failing event stream is drained aborts the connection once, with the abort reason', async () => {
    const reason = new Error('seen enough');
    const { handler, seen } = recorder({ onResponseData: (controller) => controller.abort(reason) });
    const below = await send(handler);
    const { exchange } = below;
    // undici reports an abort through onResponseError, here within abort() itself.
    const controller = fakeController((abortReason) => exchange.onResponseError?.(controller, abortReason));
    exchange.onRequestStart?.(controller, {});
    exchange.onResponseStart?.(controller, 200, SSE, 'OK');
    // One good event, then one that does not decrypt: the first is given out, then the failure.
    exchange.onResponseData?.(controller, Buffer.from(sseEvent(below, 'one') + 'data: {"choices":[{"index":0,"delta":{"content":"AAAA"}}]}\n\n'));
    await settle();
    expect(seen.log).toEqual(['request-start', 'start 200', 'data', 'error seen enough']);
    expect(streamedContent(seen.data)).toBe('one');
    expect(controller.abort).toHaveBeenCalledTimes(1);
    expect(controller.abort).toHaveBeenCalledWith(reason);
  });

  it('an upgrade reaches the handler with its controller, which drives the connection', async () => {
    let upgraded: unknown[] = [];
    const { handler, seen } = recorder({ onRequestUpgrade: (...args) => (upgraded = args) });
    const below = await send(handler);
    const socket = { fake: 'socket' } as unknown as Parameters<NonNullable<Handler['onRequestUpgrade']>>[3];
    const inner = fakeController();
    below.exchange.onRequestUpgrade?.(inner, 101, { upgrade: 'websocket' }, socket);
    expect(seen.log).toEqual(['request-start', 'upgrade 101']);
    expect(upgraded).toEqual([seen.controller, 101, { upgrade: 'websocket' }, socket]);
    const reason = new Error('closing');
    seen.controller!.abort(reason);
    expect(inner.abort).toHaveBeenCalledWith(reason);
  });
});

describe('event streams', () => {
  it('gives out the events, never an empty chunk, however the stream is cut', async () => {
    const { handler, seen } = recorder();
    const below = await send(handler);
    const text = sseEvent(below, 'one') + sseEvent(below, 'two');
    // Cut inside the first event, then at every few characters.
    const chunks = [text.slice(0, 5), text.slice(5, 9), text.slice(9, text.length - 3), text.slice(text.length - 3)];
    answer(below, 200, SSE, chunks);
    expect(seen.log[0]).toBe('request-start');
    expect(seen.log[1]).toBe('start 200');
    expect(seen.log.at(-1)).toBe('end');
    expect(seen.chunkLengths.every((length) => length > 0)).toBe(true);
    expect(seen.chunkLengths.length).toBeLessThan(chunks.length);
    expect(streamedContent(seen.data)).toBe('onetwo');
  });

  it('reads a character cut between two chunks', async () => {
    const { handler, seen } = recorder();
    const below = await send(handler);
    const comment = Buffer.from(': héllo\n\n', 'utf8');
    const cut = comment.indexOf(0xc3) + 1;
    answer(below, 200, SSE, [comment.subarray(0, cut), comment.subarray(cut), sseEvent(below, 'one')]);
    expect(seen.errors).toEqual([]);
    expect(seen.data).toContain(': héllo\n');
    expect(streamedContent(seen.data)).toBe('one');
  });

  it('refuses bytes that are not UTF-8, after the events before them, and after its start', async () => {
    const { handler, seen } = recorder();
    const below = await send(handler);
    const { exchange, controller } = below;
    exchange.onRequestStart?.(controller, {});
    exchange.onResponseStart?.(controller, 200, SSE, 'OK');
    exchange.onResponseData?.(controller, Buffer.from(sseEvent(below, 'one')));
    exchange.onResponseData?.(controller, Buffer.concat([Buffer.from(': bad '), Buffer.from([0xff]), Buffer.from('\n\n')]));
    // The error waits one immediate (undici's fetch reads a failing body only then).
    expect(seen.log).toEqual(['request-start', 'start 200', 'data']);
    await settle();
    expect(seen.log).toEqual(['request-start', 'start 200', 'data', 'error ERR_ARK_E2EE_STREAM']);
    expect(streamedContent(seen.data)).toBe('one');
    const error = seen.errors[0]!;
    expect(error).toBeInstanceOf(EventStreamError);
    expect(error.message).toBe('the answer stream is not valid UTF-8');
    expect(error.cause).toBeInstanceOf(TypeError);
    expect(controller.abort).toHaveBeenCalledWith(error);
  });

  it('refuses a stream that ends inside a character', async () => {
    const { handler, seen } = recorder();
    const below = await send(handler);
    answer(below, 200, SSE, [sseEvent(below, 'one'), Buffer.from([0xc3])]);
    await settle();
    expect(seen.log).toEqual(['request-start', 'start 200', 'data', 'error ERR_ARK_E2EE_STREAM']);
    expect(seen.errors[0]!.message).toBe('the answer stream is not valid UTF-8');
  });
});

describe('a handler may lack any method (all are optional in undici)', () => {
  /** A handler with nothing but the methods in `keep`. */
  function bare(keep: Hooks): Handler {
    return { ...keep };
  }

  it('a refused request to a handler with no methods at all throws nothing', () => {
    const { intercept } = interceptor();
    expect(() => intercept(chatOpts({ headers: { ...chatHeaders, 'x-is-encrypted': 'maybe' } }), bare({}))).not.toThrow();
  });

  it.each([
    ['an answer that passes', 502, { 'content-type': 'text/html' }],
    ['a JSON answer', 200, JSON_TYPE],
    ['an event stream', 200, SSE],
  ])('%s reaches a handler with only onResponseError and nothing else', async (_kind, status, headers) => {
    const errors: Error[] = [];
    const handler = bare({ onResponseError: (_controller, error) => errors.push(error) });
    const below = await send(handler);
    const chunk = status === 502 ? Buffer.from('bad gateway') : headers === SSE ? sseEvent(below, 'one') : jsonAnswer(below);
    expect(() => answer(below, status, headers, [chunk])).not.toThrow();
    await settle();
    expect(errors).toEqual([]);
  });

  it('a handler with only onResponseEnd hears the end of each kind of answer', async () => {
    for (const kind of ['pass', 'json', 'sse'] as const) {
      const ends: string[] = [];
      const below = await send(bare({ onResponseEnd: () => ends.push(kind) }));
      const chunk = kind === 'pass' ? Buffer.from('bad gateway') : kind === 'sse' ? sseEvent(below, 'one') : jsonAnswer(below);
      const status = kind === 'pass' ? 502 : 200;
      expect(() => answer(below, status, kind === 'sse' ? SSE : JSON_TYPE, [chunk])).not.toThrow();
      expect(ends).toEqual([kind]);
    }
  });

  it('an event stream that fails, to a handler without onResponseError, throws nothing later', async () => {
    const { thrown, real: realImmediate } = recordThrowsDeferredBy('setImmediate');
    const below = await send(bare({}));
    answer(below, 200, SSE, [sseEvent(below, 'one'), Buffer.from([0xff])]);
    await new Promise<void>((resolve) => realImmediate(resolve));
    await new Promise<void>((resolve) => realImmediate(resolve));
    expect(thrown).toEqual([]);
    expect(below.controller.abort).toHaveBeenCalledTimes(1);
    expect(below.controller.abort.mock.calls[0]![0]).toBeInstanceOf(EventStreamError);
  });

  it('a handler whose onResponseEnd throws, without onResponseError, throws nothing into the layer below', async () => {
    const below = await send(
      bare({
        onResponseEnd: () => {
          throw new Error('retry, please');
        },
      }),
    );
    expect(() => answer(below, 200, JSON_TYPE, [jsonAnswer(below)])).not.toThrow();
  });

  it('an upgrade to a handler without onRequestUpgrade throws nothing', async () => {
    const below = await send(bare({}));
    const socket = {} as Parameters<NonNullable<Handler['onRequestUpgrade']>>[3];
    expect(() => below.exchange.onRequestUpgrade?.(below.controller, 101, {}, socket)).not.toThrow();
  });
});
