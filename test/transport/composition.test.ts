/**
 * The encryption composed with undici's own retry and redirect interceptors (real ones, not
 * stand-ins), on either side of it, and the fetch wrapper facing a redirect. The rule under test
 * (docs/security.md, "Retries and redirects"): a session is never sent twice; a layer outside the
 * encryption that sends a request again gets a fresh session; an encrypted request goes to
 * another origin only when its certificate cannot be chosen by that origin (pins, trust anchors,
 * a certificate given in the options). And every outcome reaches the caller exactly once.
 */
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Agent, errors, fetch as undiciFetch, interceptors, request, type Dispatcher } from 'undici';
import { InvalidCertificateError, ResendRefusedError, UnsupportedRequestError } from '../../src/errors.js';
import { arkEncryption, createEncryptedFetch } from '../../src/index.js';
import { certificateKeyPin } from '../../src/certificates/trust.js';
import { MOCK_MODELS, mockAnswerText, startMockArkServer, type MockArkServer } from '../../src/testing/index.js';
import { startGateServer, type GateServer } from '../helpers/gate-server.js';

const SECRET = 'the secret recipe 北京';
const messages = [{ role: 'user', content: SECRET }];
const body = JSON.stringify({ model: MOCK_MODELS.default, messages });
const headers = { 'content-type': 'application/json', authorization: 'Bearer k', 'x-is-encrypted': 'true' };
const retryFast = { methods: ['POST' as const], statusCodes: [503], minTimeout: 1, maxTimeout: 5 };

let mock: MockArkServer; // the service
let twin: MockArkServer; // another origin holding the same certificate (and key)
let stranger: MockArkServer; // another origin with a certificate of its own
let gate: GateServer; // in front of mock: answers by plan
let twinGate: GateServer;
let strangerGate: GateServer;
const agents: Agent[] = [];

function agent(): Agent {
  const made = new Agent();
  agents.push(made);
  return made;
}

beforeAll(async () => {
  mock = await startMockArkServer();
  twin = await startMockArkServer({ certificate: mock.certificate });
  stranger = await startMockArkServer();
  gate = await startGateServer(mock.url);
  twinGate = await startGateServer(twin.url);
  strangerGate = await startGateServer(stranger.url);
});

afterAll(async () => {
  await Promise.all(agents.map((made) => made.close()));
  await Promise.all([gate, twinGate, strangerGate, mock, twin, stranger].map((server) => server.close()));
});

afterEach(() => {
  for (const server of [gate, twinGate, strangerGate]) {
    server.requests.length = 0;
    server.plan([]);
  }
});

function tokens(server: GateServer): string[] {
  return server.chats().map((record) => record.headers['x-session-token'] ?? '');
}

function expectNoPlaintext(...servers: GateServer[]): void {
  for (const server of servers) for (const record of server.requests) expect(record.body).not.toContain('secret');
}

async function answerText(response: Dispatcher.ResponseData): Promise<string> {
  const answer = (await response.body.json()) as { choices: Array<{ message: { content: string } }> };
  return answer.choices[0]!.message.content;
}

/** Dispatches directly and counts what reaches the caller's handler. */
function dispatchCounting(
  dispatcher: Dispatcher,
  url: string,
  requestBody: Dispatcher.DispatchOptions['body'] = body,
): Promise<{ ends: number; errors: Error[]; status: number }> {
  return new Promise((resolve) => {
    const seen = { ends: 0, errors: [] as Error[], status: 0 };
    const target = new URL(url);
    const settle = (): void => {
      // Anything that would arrive after the first outcome is counted too.
      setTimeout(() => resolve(seen), 100);
    };
    dispatcher.dispatch(
      { origin: target.origin, path: target.pathname, method: 'POST', headers, body: requestBody },
      {
        onRequestStart() {},
        onResponseStart(_controller, statusCode) {
          seen.status = statusCode;
        },
        onResponseData() {},
        onResponseEnd() {
          seen.ends += 1;
          settle();
        },
        onResponseError(_controller, error) {
          seen.errors.push(error);
          settle();
        },
      },
    );
  });
}

describe('retry outside the encryption: compose(arkEncryption(), retry)', () => {
  it('retries a 503 with a fresh session, and the answer decrypts', async () => {
    gate.plan([{ status: 503 }]);
    const dispatcher = agent().compose(arkEncryption({ cacheDir: false }), interceptors.retry(retryFast));
    const response = await request(`${gate.url}/chat/completions`, { dispatcher, method: 'POST', headers, body });
    expect(response.statusCode).toBe(200);
    expect(await answerText(response)).toBe(mockAnswerText(messages));
    const sent = tokens(gate);
    expect(sent).toHaveLength(2);
    expect(new Set(sent).size).toBe(2);
    expect(gate.chats()[0]!.body).not.toBe(gate.chats()[1]!.body);
    expectNoPlaintext(gate);
  });

  it('settles with the retry error, exactly once, when every answer is 503', async () => {
    gate.plan([{ status: 503 }, { status: 503 }, { status: 503 }, { status: 503 }]);
    const dispatcher = agent().compose(
      arkEncryption({ cacheDir: false }),
      interceptors.retry({ ...retryFast, maxRetries: 1 }),
    );
    const seen = await dispatchCounting(dispatcher, `${gate.url}/chat/completions`);
    expect(seen.ends).toBe(0);
    expect(seen.errors).toHaveLength(1);
    expect(seen.errors[0]).toBeInstanceOf(errors.RequestRetryError);
    expect((seen.errors[0] as InstanceType<typeof errors.RequestRetryError>).statusCode).toBe(503);
    const sent = tokens(gate);
    expect(sent.length).toBeGreaterThanOrEqual(2);
    expect(new Set(sent).size).toBe(sent.length);
  });

  it('settles with the error when the request body was a stream that cannot be read again', async () => {
    gate.plan([{ status: 503 }]);
    const dispatcher = agent().compose(arkEncryption({ cacheDir: false }), interceptors.retry(retryFast));
    const seen = await dispatchCounting(dispatcher, `${gate.url}/chat/completions`, Readable.from([Buffer.from(body)]));
    expect(seen.errors).toHaveLength(1);
    expect(seen.errors[0]).toBeInstanceOf(errors.RequestRetryError);
    expect(seen.ends).toBe(0);
    expect(gate.chats()).toHaveLength(1);
  });

  it("through undici's fetch (a body it reads once): the 503 settles with a clear error, never hangs", async () => {
    gate.plan([{ status: 503 }]);
    const dispatcher = agent().compose(arkEncryption({ cacheDir: false }), interceptors.retry(retryFast));
    const error = await undiciFetch(`${gate.url}/chat/completions`, { dispatcher, method: 'POST', headers, body }).then(
      () => undefined,
      (failure: unknown) => (failure as { cause?: unknown }).cause,
    );
    // The retry handler sends again, but fetch's body stream was read by the first attempt.
    expect(error).toBeInstanceOf(UnsupportedRequestError);
    expect((error as Error).message).toContain('already read');
    expect(gate.chats()).toHaveLength(1);
  });

  it('does not resume a streamed answer cut half-way (a Range retry): the caller gets an error, one chat went out', async () => {
    const chats = (): number => mock.requests.filter((record) => record.path.endsWith('/chat/completions')).length;
    const before = chats();
    const dispatcher = agent().compose(arkEncryption({ cacheDir: false }), interceptors.retry(retryFast));
    const response = await request(`${mock.url}/chat/completions`, {
      dispatcher,
      method: 'POST',
      headers,
      body: JSON.stringify({ model: MOCK_MODELS.faultReset, messages, stream: true }),
    });
    expect(response.statusCode).toBe(200);
    const error = await response.body.text().then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(error).toBeInstanceOf(ResendRefusedError);
    expect((error as Error).message).toContain('Range');
    expect(chats() - before).toBe(1);
  });

  it('passes a 503 on as an answer when the retry interceptor does not throw', async () => {
    gate.plan([{ status: 503 }, { status: 503 }]);
    const dispatcher = agent().compose(
      arkEncryption({ cacheDir: false }),
      interceptors.retry({ ...retryFast, maxRetries: 0, throwOnError: false }),
    );
    const seen = await dispatchCounting(dispatcher, `${gate.url}/chat/completions`);
    expect(seen.errors).toHaveLength(0);
    expect(seen.ends).toBe(1);
    expect(seen.status).toBe(503);
  });
});

describe('retry inside the encryption: compose(retry, arkEncryption())', () => {
  it('never sends the same session again: the 503 reaches the caller, one chat went out', async () => {
    gate.plan([{ status: 503 }]);
    const dispatcher = agent().compose(interceptors.retry(retryFast), arkEncryption({ cacheDir: false }));
    const seen = await dispatchCounting(dispatcher, `${gate.url}/chat/completions`);
    expect(seen.errors).toHaveLength(1);
    expect(seen.errors[0]).toBeInstanceOf(errors.RequestRetryError);
    expect(seen.ends).toBe(0);
    expect(gate.chats()).toHaveLength(1);
  });

  it('refuses a layer below that buffers the encrypted body and sends it again', async () => {
    // An interceptor that keeps the body to be able to retry, as some retry plugins do.
    const buffering: Dispatcher.DispatcherComposeInterceptor = (dispatch) =>
      function resendOnce(opts, handler) {
        void (async () => {
          const chunks: Buffer[] = [];
          for await (const chunk of opts.body as AsyncIterable<Buffer>) chunks.push(Buffer.from(chunk));
          const bytes = Buffer.concat(chunks);
          let retried = false;
          const again: Dispatcher.DispatchHandler = {
            onRequestStart: (controller, context) => handler.onRequestStart?.(controller, context),
            onResponseStart(controller, statusCode, responseHeaders, message) {
              if (statusCode === 503 && !retried) return;
              handler.onResponseStart?.(controller, statusCode, responseHeaders, message);
            },
            onResponseData(controller, chunk) {
              if (retried) handler.onResponseData?.(controller, chunk);
            },
            onResponseEnd(controller, trailers) {
              if (!retried) {
                retried = true;
                dispatch({ ...opts, body: bytes }, again);
                return;
              }
              handler.onResponseEnd?.(controller, trailers);
            },
            onResponseError: (controller, error) => handler.onResponseError?.(controller, error),
          };
          dispatch({ ...opts, body: bytes }, again);
        })();
        return true;
      };
    gate.plan([{ status: 503 }]);
    const dispatcher = agent().compose(buffering, arkEncryption({ cacheDir: false }));
    const seen = await dispatchCounting(dispatcher, `${gate.url}/chat/completions`);
    expect(seen.errors).toHaveLength(1);
    expect(seen.errors[0]).toBeInstanceOf(ResendRefusedError);
    expect(seen.ends).toBe(0);
    expect(gate.chats()).toHaveLength(1);
  });
});

describe('redirect inside the encryption: compose(redirect, arkEncryption())', () => {
  it('does not follow a 307 to another origin: the caller gets the 307, the other origin nothing', async () => {
    gate.plan([{ status: 307, location: `${strangerGate.url}/chat/completions` }]);
    const dispatcher = agent().compose(interceptors.redirect({ maxRedirections: 3 }), arkEncryption({ cacheDir: false }));
    const response = await request(`${gate.url}/chat/completions`, { dispatcher, method: 'POST', headers, body });
    expect(response.statusCode).toBe(307);
    await response.body.text();
    expect(gate.chats()).toHaveLength(1);
    expect(strangerGate.requests).toHaveLength(0);
  });

  it('does not follow a 307 to the same origin either', async () => {
    gate.plan([{ status: 307, location: `${gate.url}/chat/completions?again=1` }]);
    const dispatcher = agent().compose(interceptors.redirect({ maxRedirections: 3 }), arkEncryption({ cacheDir: false }));
    const response = await request(`${gate.url}/chat/completions`, { dispatcher, method: 'POST', headers, body });
    expect(response.statusCode).toBe(307);
    await response.body.text();
    expect(gate.chats()).toHaveLength(1);
  });
});

describe('redirect outside the encryption: compose(arkEncryption(), redirect)', () => {
  const redirect = interceptors.redirect({ maxRedirections: 3 });

  it('follows a 307 on the same origin with a fresh session', async () => {
    gate.plan([{ status: 307, location: `${gate.url}/chat/completions?again=1` }]);
    const dispatcher = agent().compose(arkEncryption({ cacheDir: false }), redirect);
    const response = await request(`${gate.url}/chat/completions`, { dispatcher, method: 'POST', headers, body });
    expect(response.statusCode).toBe(200);
    expect(await answerText(response)).toBe(mockAnswerText(messages));
    const sent = tokens(gate);
    expect(sent).toHaveLength(2);
    expect(new Set(sent).size).toBe(2);
    expectNoPlaintext(gate);
  });

  it('refuses a 307 to another origin when that origin would choose the certificate', async () => {
    gate.plan([{ status: 307, location: `${strangerGate.url}/chat/completions` }]);
    const dispatcher = agent().compose(arkEncryption({ cacheDir: false }), redirect);
    const seen = await dispatchCounting(dispatcher, `${gate.url}/chat/completions`);
    expect(seen.errors).toHaveLength(1);
    expect(seen.errors[0]).toBeInstanceOf(ResendRefusedError);
    expect((seen.errors[0] as Error).message).toContain(strangerGate.origin);
    expect(seen.ends).toBe(0);
    // Not even its certificate was asked for.
    expect(strangerGate.requests).toHaveLength(0);
  });

  it('follows a 307 to another origin whose certificate passes the pins, with a fresh session', async () => {
    gate.plan([{ status: 307, location: `${twinGate.url}/chat/completions` }]);
    const pinnedKeys = [await certificateKeyPin(mock.certificatePem)];
    const dispatcher = agent().compose(arkEncryption({ cacheDir: false, pinnedKeys }), redirect);
    const response = await request(`${gate.url}/chat/completions`, { dispatcher, method: 'POST', headers, body });
    expect(response.statusCode).toBe(200);
    expect(await answerText(response)).toBe(mockAnswerText(messages));
    expect(twinGate.chats()).toHaveLength(1);
    expect(tokens(twinGate)[0]).not.toBe(tokens(gate)[0]);
    expectNoPlaintext(gate, twinGate);
  });

  it('refuses a 307 to another origin whose certificate fails the pins, sending it no chat', async () => {
    gate.plan([{ status: 307, location: `${strangerGate.url}/chat/completions` }]);
    const pinnedKeys = [await certificateKeyPin(mock.certificatePem)];
    const dispatcher = agent().compose(arkEncryption({ cacheDir: false, pinnedKeys }), redirect);
    const seen = await dispatchCounting(dispatcher, `${gate.url}/chat/completions`);
    expect(seen.errors).toHaveLength(1);
    expect(seen.errors[0]).toBeInstanceOf(InvalidCertificateError);
    expect(strangerGate.chats()).toHaveLength(0);
  });

  it('follows a 307 to another origin when the certificate is given in the options', async () => {
    gate.plan([{ status: 307, location: `${twinGate.url}/chat/completions` }]);
    const dispatcher = agent().compose(arkEncryption({ cacheDir: false, certificate: mock.certificatePem }), redirect);
    const response = await request(`${gate.url}/chat/completions`, { dispatcher, method: 'POST', headers, body });
    expect(await answerText(response)).toBe(mockAnswerText(messages));
    expect(twinGate.requests.filter((record) => record.path.endsWith('/e2e/get/certificate'))).toHaveLength(0);
  });
});

describe('createEncryptedFetch facing a redirect', () => {
  it('hands a 307 to another origin back to the caller instead of sending the session there', async () => {
    gate.plan([{ status: 307, location: `${strangerGate.url}/chat/completions` }]);
    const response = await createEncryptedFetch({ cacheDir: false })(`${gate.url}/chat/completions`, {
      method: 'POST',
      headers,
      body,
    });
    expect(response.status).toBe(307);
    expect(response.headers.get('location')).toBe(`${strangerGate.url}/chat/completions`);
    await response.text();
    expect(gate.chats()).toHaveLength(1);
    expect(strangerGate.requests).toHaveLength(0);
  });

  it('does not follow a same-origin 307 either, and honours redirect: "error"', async () => {
    const encryptedFetch = createEncryptedFetch({ cacheDir: false });
    gate.plan([{ status: 307, location: `${gate.url}/chat/completions?again=1` }]);
    const response = await encryptedFetch(`${gate.url}/chat/completions`, { method: 'POST', headers, body });
    expect(response.status).toBe(307);
    await response.text();
    expect(gate.chats()).toHaveLength(1);

    gate.plan([{ status: 307, location: `${gate.url}/chat/completions?again=1` }]);
    await expect(
      encryptedFetch(`${gate.url}/chat/completions`, { method: 'POST', headers, body, redirect: 'error' }),
    ).rejects.toThrow(TypeError);
    expect(gate.chats()).toHaveLength(2);
  });

  it('a Request asking to follow is not followed either', async () => {
    gate.plan([{ status: 308, location: `${strangerGate.url}/chat/completions` }]);
    const response = await createEncryptedFetch({ cacheDir: false })(
      new Request(`${gate.url}/chat/completions`, { method: 'POST', headers, body, redirect: 'follow' }),
    );
    expect(response.status).toBe(308);
    await response.text();
    expect(strangerGate.requests).toHaveLength(0);
  });
});
