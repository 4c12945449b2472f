/**
 * arkEncryption (the undici interceptor) against the mock Ark service, through undici's
 * `request` and undici's `fetch`, plus a tiny local server for tampered answers.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Agent, FormData, fetch as undiciFetch, request, type Dispatcher } from 'undici';
import {
  CertificateUnavailableError,
  DecryptionFailedError,
  UnsupportedRequestError,
} from '../../src/errors.js';
import { arkEncryption } from '../../src/index.js';
import {
  MOCK_MODELS,
  mockAnswerText,
  mockLongModel,
  mockLongText,
  startMockArkServer,
  type MockArkServer,
} from '../../src/testing/index.js';
import { makeCertificate } from '../helpers/make-certificate.js';

const API_KEY = 'test-api-key';
const SECRET_SYSTEM = 'You are the keeper of the secret recipe.';
const SECRET_USER = 'What is in the secret sauce? 北京 🔐';

function chatBody(model: string = MOCK_MODELS.default, stream = false): { text: string; messages: unknown[] } {
  const messages = [
    { role: 'system', content: SECRET_SYSTEM },
    { role: 'user', content: [{ type: 'text', text: SECRET_USER }] },
  ];
  return { text: JSON.stringify({ model, messages, stream }), messages };
}

const encryptedHeaders = {
  'content-type': 'application/json',
  authorization: `Bearer ${API_KEY}`,
  'x-is-encrypted': 'true',
};

/** The concatenated `delta.content` of an SSE body. */
function streamedContent(text: string): string {
  let content = '';
  for (const line of text.split('\n')) {
    if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
    const chunk = JSON.parse(line.slice(6)) as { choices: Array<{ delta?: { content?: string } }> };
    for (const choice of chunk.choices) content += choice.delta?.content ?? '';
  }
  return content;
}

/** The typed error itself, or the `cause` undici's fetch wraps it in. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof TypeError && (error as { cause?: unknown }).cause !== undefined) return error.cause;
    return error;
  }
  throw new Error('expected a rejection');
}

let server: MockArkServer;
const agents: Dispatcher[] = [];

function encryptingAgent(options: Parameters<typeof arkEncryption>[0] = {}): Dispatcher {
  const agent = new Agent();
  agents.push(agent);
  return agent.compose(arkEncryption({ cacheDir: false, ...options }));
}

beforeAll(async () => {
  server = await startMockArkServer({ apiKey: API_KEY });
});

afterAll(async () => {
  await Promise.all(agents.map((agent) => agent.close()));
  await server.close();
});

afterEach(() => {
  server.requests.length = 0;
  vi.restoreAllMocks();
});

function chatRecords() {
  return server.requests.filter((record) => record.path.endsWith('/chat/completions'));
}

function expectNoPlaintextSent(): void {
  for (const record of server.requests) {
    expect(record.body).not.toContain('secret');
    expect(record.body).not.toContain('北京');
    expect(record.body).not.toContain(SECRET_SYSTEM);
  }
}

describe('arkEncryption through undici.request', () => {
  it('encrypts a non-streamed chat completion and decrypts the answer', async () => {
    const dispatcher = encryptingAgent();
    const { text, messages } = chatBody();
    const response = await request(`${server.url}/chat/completions`, {
      dispatcher,
      method: 'POST',
      headers: encryptedHeaders,
      body: text,
    });
    expect(response.statusCode).toBe(200);
    const raw = await response.body.text();
    expect(response.headers['content-length']).toBe(String(Buffer.byteLength(raw)));
    const answer = JSON.parse(raw) as { choices: Array<{ message: { content: string } }> };
    expect(answer.choices[0]?.message.content).toBe(mockAnswerText(messages));

    const chats = chatRecords();
    expect(chats).toHaveLength(1);
    expect(chats[0]?.headers['x-session-token']).toMatch(/^[A-Za-z0-9+/]{87}=$/);
    expect(JSON.parse(chats[0]?.headers['x-encrypt-info'] ?? '{}')).toHaveProperty('ExpireTime');
    expect(chats[0]?.decryptedMessages).toEqual(messages);
    expectNoPlaintextSent();
  });

  it('decrypts a streamed answer as it flows, without content-length', async () => {
    const dispatcher = encryptingAgent();
    const { text, messages } = chatBody(MOCK_MODELS.default, true);
    const response = await request(`${server.url}/chat/completions`, {
      dispatcher,
      method: 'POST',
      headers: encryptedHeaders,
      body: text,
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('text/event-stream');
    expect(response.headers['content-length']).toBeUndefined();
    const body = await response.body.text();
    expect(streamedContent(body)).toBe(mockAnswerText(messages));
    expect(body.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expectNoPlaintextSent();
  });

  it('decrypts several ciphertexts laid end to end', async () => {
    const { text, messages } = chatBody(MOCK_MODELS.pieces);
    const response = await request(`${server.url}/chat/completions`, {
      dispatcher: encryptingAgent(),
      method: 'POST',
      headers: encryptedHeaders,
      body: text,
    });
    const answer = (await response.body.json()) as { choices: Array<{ message: { content: string } }> };
    expect(answer.choices[0]?.message.content).toBe(mockAnswerText(messages));
  });

  it('decrypts a long streamed answer cut in small chunks (CJK across chunk boundaries)', async () => {
    const response = await request(`${server.url}/chat/completions`, {
      dispatcher: encryptingAgent(),
      method: 'POST',
      headers: encryptedHeaders,
      body: chatBody(mockLongModel(20_000, 5), true).text,
    });
    expect(streamedContent(await response.body.text())).toBe(mockLongText(20_000));
  });

  it('serves concurrent requests with one certificate fetch', async () => {
    const dispatcher = encryptingAgent();
    const answers = await Promise.all(
      [0, 1, 2, 3, 4].map(async (i) => {
        const body = JSON.stringify({ model: MOCK_MODELS.default, messages: [{ role: 'user', content: `secret ${i}` }] });
        const response = await request(`${server.url}/chat/completions`, {
          dispatcher,
          method: 'POST',
          headers: encryptedHeaders,
          body,
        });
        return ((await response.body.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]
          ?.message.content;
      }),
    );
    expect(answers).toEqual([0, 1, 2, 3, 4].map((i) => `echo: secret ${i}`));
    expect(server.requests.filter((record) => record.path.endsWith('/e2e/get/certificate'))).toHaveLength(1);
    expectNoPlaintextSent();
  });

  it('stops a streamed answer when the caller aborts it', async () => {
    const controller = new AbortController();
    const response = await request(`${server.url}/chat/completions`, {
      dispatcher: encryptingAgent(),
      method: 'POST',
      headers: encryptedHeaders,
      body: chatBody(mockLongModel(2_000_000, 16), true).text,
      signal: controller.signal,
    });
    const reason = new Error('enough');
    let received = 0;
    const read = (async () => {
      for await (const chunk of response.body) {
        received += (chunk as Buffer).byteLength;
        if (received > 10_000) controller.abort(reason);
      }
    })();
    expect(await rejection(read)).toBe(reason);
  });

  it('reads the header in any shape and case, and bodies that are streams or bytes', async () => {
    const dispatcher = encryptingAgent();
    const { text, messages } = chatBody();
    const bytes = Buffer.from(text);
    const shapes: Array<{ headers: Dispatcher.DispatchOptions['headers']; body: Dispatcher.DispatchOptions['body'] }> = [
      {
        headers: ['Content-Type', 'application/json', 'Authorization', `Bearer ${API_KEY}`, 'X-Is-Encrypted', 'TRUE'],
        body: Readable.from([bytes.subarray(0, 7), bytes.subarray(7, 100), bytes.subarray(100)]),
      },
      {
        headers: new Map([
          ['authorization', `Bearer ${API_KEY}`],
          ['X-IS-ENCRYPTED', 'true'],
        ]),
        body: new Uint8Array(bytes),
      },
    ];
    for (const { headers, body } of shapes) {
      const response = await request(`${server.url}/chat/completions`, { dispatcher, method: 'POST', headers, body });
      const answer = (await response.body.json()) as { choices: Array<{ message: { content: string } }> };
      expect(answer.choices[0]?.message.content).toBe(mockAnswerText(messages));
    }
    expect(chatRecords()).toHaveLength(2);
    expectNoPlaintextSent();
  });

  it('uses a fresh session token for every request, one certificate fetch for all', async () => {
    const dispatcher = encryptingAgent();
    for (let i = 0; i < 3; i++) {
      const response = await request(`${server.url}/chat/completions`, {
        dispatcher,
        method: 'POST',
        headers: encryptedHeaders,
        body: chatBody().text,
      });
      await response.body.text();
    }
    const tokens = chatRecords().map((record) => record.headers['x-session-token']);
    expect(tokens).toHaveLength(3);
    expect(new Set(tokens).size).toBe(3);
    expect(server.requests.filter((record) => record.path.endsWith('/e2e/get/certificate'))).toHaveLength(1);
  });

  it('sends a request without the header untouched', async () => {
    const dispatcher = encryptingAgent();
    const { text, messages } = chatBody();
    const response = await request(`${server.url}/chat/completions`, {
      dispatcher,
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
      body: text,
    });
    const answer = (await response.body.json()) as { choices: Array<{ message: { content: string } }> };
    expect(answer.choices[0]?.message.content).toBe(mockAnswerText(messages));
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]?.body).toBe(text);
    expect(server.requests[0]?.headers['x-session-token']).toBeUndefined();
  });

  it('refuses the header on a path the protocol does not cover, sending nothing', async () => {
    const error = await rejection(
      request(`${server.url}/embeddings`, {
        dispatcher: encryptingAgent(),
        method: 'POST',
        headers: encryptedHeaders,
        body: JSON.stringify({ model: 'm', input: SECRET_USER }),
      }),
    );
    expect(error).toBeInstanceOf(UnsupportedRequestError);
    expect(server.requests).toHaveLength(0);
  });

  it('refuses a FormData body, sending nothing', async () => {
    const form = new FormData();
    form.append('messages', SECRET_USER);
    const error = await rejection(
      request(`${server.url}/chat/completions`, {
        dispatcher: encryptingAgent(),
        method: 'POST',
        headers: { 'x-is-encrypted': 'true' },
        body: form,
      }),
    );
    expect(error).toBeInstanceOf(UnsupportedRequestError);
    expect((error as Error).message).toContain('FormData');
    expect(server.requests).toHaveLength(0);
  });

  it('passes an error answer (401) through untouched', async () => {
    const response = await request(`${server.url}/chat/completions`, {
      dispatcher: encryptingAgent({ certificate: server.certificatePem }),
      method: 'POST',
      headers: { ...encryptedHeaders, authorization: 'Bearer wrong-key' },
      body: chatBody().text,
    });
    expect(response.statusCode).toBe(401);
    const body = (await response.body.json()) as { error: { code: string } };
    expect(body.error.code).toBe('AuthenticationError');
    expect(chatRecords()).toHaveLength(1);
    expectNoPlaintextSent();
  });

  it('rejects with CertificateUnavailableError when the certificate is refused, sending no chat', async () => {
    const error = await rejection(
      request(`${server.url}/chat/completions`, {
        dispatcher: encryptingAgent(),
        method: 'POST',
        headers: { ...encryptedHeaders, authorization: 'Bearer wrong-key' },
        body: chatBody().text,
      }),
    );
    expect(error).toBeInstanceOf(CertificateUnavailableError);
    expect((error as CertificateUnavailableError).status).toBe(401);
    expect(chatRecords()).toHaveLength(0);
  });

  it('fetches the certificate down the same dispatch chain, never through globalThis.fetch', async () => {
    const globalFetch = vi.spyOn(globalThis, 'fetch');
    const seen: string[] = [];
    const recorder: Dispatcher.DispatcherComposeInterceptor = (dispatch) =>
      function record(opts, handler) {
        seen.push(`${opts.method} ${opts.path}`);
        return dispatch(opts, handler);
      };
    const agent = new Agent();
    agents.push(agent);
    // compose(a, b): b wraps a, so the recorder sits below the encryption.
    const dispatcher = agent.compose(recorder, arkEncryption({ cacheDir: false }));
    const response = await request(`${server.url}/chat/completions`, {
      dispatcher,
      method: 'POST',
      headers: encryptedHeaders,
      body: chatBody().text,
    });
    await response.body.text();
    expect(seen).toEqual(['POST /api/v3/e2e/get/certificate', 'POST /api/v3/chat/completions']);
    expect(globalFetch).not.toHaveBeenCalled();
  });

  it('does not dispatch when aborted during the certificate phase', async () => {
    let release: (pem: string) => void = () => undefined;
    let asked!: () => void;
    const certificateAsked = new Promise<void>((resolve) => {
      asked = resolve;
    });
    const certificate = (): Promise<string> =>
      new Promise<string>((resolve) => {
        release = resolve;
        asked();
      });
    const controller = new AbortController();
    const pending = rejection(
      request(`${server.url}/chat/completions`, {
        dispatcher: encryptingAgent({ certificate }),
        method: 'POST',
        headers: encryptedHeaders,
        body: chatBody().text,
        signal: controller.signal,
      }),
    );
    await certificateAsked;
    const reason = new Error('user gave up');
    controller.abort(reason);
    expect(await pending).toBe(reason);
    release(server.certificatePem);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.requests).toHaveLength(0);
  });

  // The interceptor itself takes new-style handlers (what compose hands it); an old-style handler
  // given to the composed dispatcher is wrapped by undici before it reaches the interceptor.
  it('works with an old-style handler given to the composed dispatcher', async () => {
    const agent = new Agent();
    agents.push(agent);
    const composed = agent.compose(arkEncryption({ cacheDir: false }));
    const dispatch = composed.dispatch.bind(composed) as Dispatcher.Dispatch;
    const { text, messages } = chatBody();
    const url = new URL(`${server.url}/chat/completions`);
    const result = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let status = 0;
      dispatch(
        { origin: url.origin, path: url.pathname, method: 'POST', headers: encryptedHeaders, body: text },
        {
          onConnect: () => undefined,
          onHeaders: (statusCode) => {
            status = statusCode;
            return true;
          },
          onData: (chunk) => {
            chunks.push(chunk);
            return true;
          },
          onComplete: () => resolve({ status, body: Buffer.concat(chunks).toString('utf8') }),
          onError: reject,
        },
      );
    });
    expect(result.status).toBe(200);
    const answer = JSON.parse(result.body) as { choices: Array<{ message: { content: string } }> };
    expect(answer.choices[0]?.message.content).toBe(mockAnswerText(messages));
  });
});

describe('arkEncryption through undici.fetch', () => {
  it('encrypts and decrypts a non-streamed chat completion', async () => {
    const { text, messages } = chatBody();
    const response = await undiciFetch(`${server.url}/chat/completions`, {
      dispatcher: encryptingAgent(),
      method: 'POST',
      headers: encryptedHeaders,
      body: text,
    });
    expect(response.status).toBe(200);
    const answer = (await response.json()) as { choices: Array<{ message: { content: string } }> };
    expect(answer.choices[0]?.message.content).toBe(mockAnswerText(messages));
    expect(chatRecords()[0]?.decryptedMessages).toEqual(messages);
    expectNoPlaintextSent();
  });

  it('decrypts a streamed answer', async () => {
    const { text, messages } = chatBody(MOCK_MODELS.default, true);
    const response = await undiciFetch(`${server.url}/chat/completions`, {
      dispatcher: encryptingAgent(),
      method: 'POST',
      headers: encryptedHeaders,
      body: text,
    });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    expect(streamedContent(await response.text())).toBe(mockAnswerText(messages));
    expectNoPlaintextSent();
  });

  it('sends a request without the header untouched', async () => {
    const { text } = chatBody();
    const response = await undiciFetch(`${server.url}/chat/completions`, {
      dispatcher: encryptingAgent(),
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
      body: text,
    });
    await response.text();
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]?.body).toBe(text);
  });

  it('rejects with the typed error on an uncovered path, sending nothing', async () => {
    const error = await rejection(
      undiciFetch(`${server.url}/bots/chat/completions`, {
        dispatcher: encryptingAgent(),
        method: 'POST',
        headers: encryptedHeaders,
        body: chatBody().text,
      }),
    );
    expect(error).toBeInstanceOf(UnsupportedRequestError);
    expect(server.requests).toHaveLength(0);
  });

  it('passes a 401 through', async () => {
    const response = await undiciFetch(`${server.url}/chat/completions`, {
      dispatcher: encryptingAgent({ certificate: server.certificatePem }),
      method: 'POST',
      headers: { ...encryptedHeaders, authorization: 'Bearer wrong-key' },
      body: chatBody().text,
    });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('AuthenticationError');
  });

  it('does not dispatch when aborted during the certificate phase', async () => {
    let asked!: () => void;
    const certificateAsked = new Promise<void>((resolve) => {
      asked = resolve;
    });
    const controller = new AbortController();
    const pending = rejection(
      undiciFetch(`${server.url}/chat/completions`, {
        dispatcher: encryptingAgent({
          certificate: () =>
            new Promise<string>(() => {
              asked();
            }),
        }),
        method: 'POST',
        headers: encryptedHeaders,
        body: chatBody().text,
        signal: controller.signal,
      }),
    );
    await certificateAsked;
    controller.abort();
    const error = await pending;
    expect((error as Error).name).toBe('AbortError');
    expect(server.requests).toHaveLength(0);
  });
});

describe('arkEncryption with a tampered answer', () => {
  let tamper: Server;
  let base: string;
  const certificate = makeCertificate();
  const garbage = Buffer.alloc(40, 7).toString('base64');

  beforeAll(async () => {
    tamper = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (req.url?.endsWith('/e2e/get/certificate')) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ Certificate: certificate.pem }));
        } else if (req.url?.endsWith('/stream/chat/completions')) {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          const chunk = { choices: [{ index: 0, delta: { content: garbage }, finish_reason: null }] };
          res.end(`data: ${JSON.stringify(chunk)}\n\ndata: [DONE]\n\n`);
        } else {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: garbage }, finish_reason: 'stop' }] }));
        }
      });
    });
    await new Promise<void>((resolve) => tamper.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(tamper.address() as AddressInfo).port}/api/v3`;
  });

  afterAll(async () => {
    tamper.closeAllConnections();
    await new Promise((resolve) => tamper.close(resolve));
  });

  it('rejects a non-streamed answer that does not authenticate (request)', async () => {
    const error = await rejection(
      request(`${base}/chat/completions`, {
        dispatcher: encryptingAgent(),
        method: 'POST',
        headers: encryptedHeaders,
        body: chatBody().text,
      }),
    );
    expect(error).toBeInstanceOf(DecryptionFailedError);
  });

  it('fails a streamed answer that does not authenticate (request)', async () => {
    const response = await request(`${base}/stream/chat/completions`, {
      dispatcher: encryptingAgent(),
      method: 'POST',
      headers: encryptedHeaders,
      body: chatBody(MOCK_MODELS.default, true).text,
    });
    expect(response.statusCode).toBe(200);
    expect(await rejection(response.body.text())).toBeInstanceOf(DecryptionFailedError);
  });

  it('rejects with DecryptionFailedError through fetch, non-streamed and streamed', async () => {
    const dispatcher = encryptingAgent();
    const init = { dispatcher, method: 'POST', headers: encryptedHeaders, body: chatBody().text };
    expect(await rejection(undiciFetch(`${base}/chat/completions`, init))).toBeInstanceOf(DecryptionFailedError);
    const response = await undiciFetch(`${base}/stream/chat/completions`, init);
    expect(await rejection(response.text())).toBeInstanceOf(DecryptionFailedError);
  });
});
