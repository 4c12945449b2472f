/**
 * startMockArkServer: the service side of Ark's encryption protocol on node:http and
 * node:crypto, on loopback, for tests and the demo. Scenarios by model name: see scenarios.ts.
 *
 * Routes (prefix `/api/v3`): `POST /e2e/get/certificate`, `POST /chat/completions`,
 * `POST /batch/chat/completions`; anything else is 404. Every answer allows CORS from any origin,
 * and a preflight (`OPTIONS`) is answered 204 without being recorded.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KeyObject } from 'node:crypto';
import {
  AICC_VERSION,
  BATCH_CHAT_COMPLETIONS_SUFFIX,
  CERTIFICATE_PATH,
  CERTIFICATE_SESSION_TOKEN,
  CHAT_COMPLETIONS_SUFFIX,
} from '../protocol/constants.js';
import { createMockCertificate, type MockCertificate, type MockCertificateOptions } from './certificate-authority.js';
import { MockRequestError, openEncryptedRequest } from './encrypted-request.js';
import { completionBody, completionChunks, errorBody, type ResponseContext } from './responses.js';
import { planAnswer, scenarioForModel } from './scenarios.js';
import { createMockOpenApi, type MockOpenApi, type MockOpenApiOptions } from './openapi-mock.js';
import { answerCertificateFault, answerWithFault, chatFaultForModel, type CertificateFault } from './faults.js';

export const MOCK_API_PREFIX = '/api/v3';
const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, OPTIONS',
  'access-control-allow-headers':
    'authorization, content-type, x-is-encrypted, x-session-token, x-encrypt-info, x-client-request-id',
  'access-control-expose-headers': 'x-request-id, x-client-request-id, retry-after, retry-after-ms',
};
const MAX_BODY_BYTES = 64 * 1024 * 1024;

export interface MockArkServerOptions extends MockCertificateOptions {
  /** Default 0: a free port. */
  port?: number;
  /** Default `127.0.0.1`. */
  host?: string;
  /** When set, every request must carry `Authorization: Bearer <apiKey>`, else 401. */
  apiKey?: string;
  /** A certificate to serve instead of a fresh one (e.g. to keep it across restarts). */
  certificate?: MockCertificate;
  /** Answer every certificate request with this fault instead of the certificate (faults.ts). */
  certificateFault?: CertificateFault;
  /**
   * Serve the OpenAPI actions of the access-key path at `/` (openapi-mock.ts). The chat endpoint
   * then accepts the keys GetApiKey gave (as well as `apiKey`), and nothing else.
   */
  openApi?: MockOpenApiOptions;
  /** Called once per request when its answer is done (or cut), with the record filled in. */
  onRequest?: (record: RecordedRequest) => void;
}

export interface RecordedRequest {
  readonly method: string;
  /** Path and query as received, e.g. `/api/v3/chat/completions`. */
  readonly path: string;
  /** Header names lowercased; repeated headers joined with `, `. */
  readonly headers: Record<string, string>;
  /** The raw body as received (UTF-8). */
  readonly body: string;
  /** For an encrypted chat request the server could open: the messages as it decrypted them. */
  decryptedMessages?: unknown[];
  /** For such a request: where it carried ciphertext, e.g. `messages[1].content[0].text`. */
  ciphertextFields?: string[];
  /** The status answered, once the answer is done; 0 when the connection closed before any. */
  status?: number;
  /** For an encrypted chat request: how many answer texts the mock encrypted (contents, reasoning). */
  answerCiphertexts?: number;
}

export interface MockArkServerStats {
  /** Requests that reached the certificate endpoint (answered or not). */
  certificateRequests: number;
  /** Chat (and batch chat) requests, and those of them that said they were encrypted. */
  chatRequests: number;
  encryptedRequests: number;
}

export interface MockArkServer {
  /** `http://127.0.0.1:PORT/api/v3`: the base URL to give a client. */
  readonly url: string;
  readonly port: number;
  readonly certificatePem: string;
  readonly certificate: MockCertificate;
  /** The certificate's private key (for deriveServerSession in tests). */
  readonly privateKey: KeyObject;
  /** Every request in arrival order, raw. */
  readonly requests: RecordedRequest[];
  readonly stats: MockArkServerStats;
  /** With the `openApi` option: `http://127.0.0.1:PORT`, the `openApiUrl` to give a client. */
  readonly openApiUrl: string | undefined;
  /** With the `openApi` option: its CA chain, counters, and the keys it gave. */
  readonly openApi: MockOpenApi | undefined;
  /** Same as `stats.certificateRequests`. */
  readonly certificateRequests: number;
  readonly server: Server;
  /** Closes the server and destroys open connections; resolves when closed. */
  close(): Promise<void>;
}

function recordHeaders(request: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const bytes = chunk as Buffer;
    size += bytes.length;
    if (size > MAX_BODY_BYTES) throw new MockRequestError(413, 'RequestTooLarge', 'request body too large', 'BadRequest');
    chunks.push(bytes);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
  });
  response.end(text);
}

function sendError(response: ServerResponse, error: MockRequestError, headers: Record<string, string> = {}): void {
  sendJson(response, error.status, errorBody(error.code, error.message, error.type, error.param), headers);
}

function parseJsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new MockRequestError(400, 'InvalidParameter', 'the request body is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new MockRequestError(400, 'InvalidParameter', 'the request body is not a JSON object');
  }
  return value as Record<string, unknown>;
}

function waitForDrain(response: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      response.off('drain', done);
      response.off('close', done);
      resolve();
    };
    response.on('drain', done);
    response.on('close', done);
  });
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/** Starts the mock Ark service; resolves once it listens. */
export async function startMockArkServer(options: MockArkServerOptions = {}): Promise<MockArkServer> {
  const certificate = options.certificate ?? createMockCertificate(options);
  const host = options.host ?? '127.0.0.1';
  const requests: RecordedRequest[] = [];
  const stats: MockArkServerStats = { certificateRequests: 0, chatRequests: 0, encryptedRequests: 0 };
  let sequence = 0;

  const openApi = options.openApi === undefined ? undefined : createMockOpenApi(options.openApi, certificate);
  const authorize = (headers: Record<string, string>): void => {
    if (openApi?.accepts(headers['authorization'])) return;
    if (options.apiKey === undefined ? openApi === undefined : headers['authorization'] === `Bearer ${options.apiKey}`) return;
    throw new MockRequestError(401, 'AuthenticationError',
      'The API key in the request is missing or invalid.', 'Unauthorized');
  };

  const serveCertificate = (record: RecordedRequest, response: ServerResponse): void => {
    stats.certificateRequests += 1;
    authorize(record.headers);
    if (record.headers['x-session-token'] !== CERTIFICATE_SESSION_TOKEN) {
      throw new MockRequestError(400, 'InvalidParameter',
        `a certificate request must carry X-Session-Token: ${CERTIFICATE_SESSION_TOKEN}`, 'BadRequest', 'X-Session-Token');
    }
    const body = parseJsonObject(record.body);
    if (typeof body['model'] !== 'string' || body['model'] === '') {
      throw new MockRequestError(400, 'InvalidParameter', 'model must be a non-empty string', 'BadRequest', 'model');
    }
    if (body['type'] !== undefined && body['type'] !== AICC_VERSION) {
      throw new MockRequestError(400, 'InvalidParameter', `type must be ${AICC_VERSION} when present`, 'BadRequest', 'type');
    }
    if (options.certificateFault !== undefined) return answerCertificateFault(options.certificateFault, response);
    sendJson(response, 200, { Certificate: certificate.certificatePem });
  };

  const serveChat = async (record: RecordedRequest, response: ServerResponse): Promise<void> => {
    stats.chatRequests += 1;
    sequence += 1;
    const id = `021mock${String(sequence).padStart(8, '0')}`;
    const replyHeaders: Record<string, string> = { 'x-request-id': id };
    const clientRequestId = record.headers['x-client-request-id'];
    if (clientRequestId !== undefined) replyHeaders['x-client-request-id'] = clientRequestId;
    try {
      authorize(record.headers);
      const body = parseJsonObject(record.body);
      const model = body['model'];
      if (typeof model !== 'string' || model === '') {
        throw new MockRequestError(400, 'InvalidParameter', 'model must be a non-empty string', 'BadRequest', 'model');
      }
      let messages: unknown = body['messages'];
      let seal = (text: string): string => text;
      if (record.headers['x-is-encrypted']?.toLowerCase() === 'true') {
        stats.encryptedRequests += 1;
        const opened = openEncryptedRequest(record.headers, body, certificate);
        record.decryptedMessages = opened.messages;
        record.ciphertextFields = opened.ciphertextFields;
        messages = opened.messages;
        record.answerCiphertexts = 0;
        seal = (text) => {
          record.answerCiphertexts! += 1;
          return opened.seal(text);
        };
      }
      if (!Array.isArray(messages)) {
        throw new MockRequestError(400, 'InvalidParameter', 'messages must be an array', 'BadRequest', 'messages');
      }
      const scenario = scenarioForModel(model);
      if (scenario.kind === 'error' && scenario.status === 429) {
        replyHeaders['retry-after'] = '1';
        replyHeaders['retry-after-ms'] = '10';
        throw new MockRequestError(429, 'RateLimitExceeded.EndpointRPMExceeded',
          'The request was rejected because the rate limit of the endpoint was exceeded.', 'TooManyRequests');
      }
      if (scenario.kind === 'error') {
        replyHeaders['retry-after-ms'] = '10';
        throw new MockRequestError(500, 'InternalServiceError',
          'The service encountered an unexpected internal error.', 'InternalServerError');
      }
      const plan = planAnswer(scenario, { ...body, messages });
      const ctx: ResponseContext = { id, created: Math.floor(Date.now() / 1000), model, seal };
      const fault = chatFaultForModel(model);
      if (fault !== undefined) return answerWithFault(fault, { response, plan, ctx, request: body, headers: replyHeaders });
      if (body['stream'] !== true) {
        sendJson(response, 200, completionBody(plan, ctx), replyHeaders);
        return;
      }
      const streamOptions = body['stream_options'];
      const includeUsage = typeof streamOptions === 'object' && streamOptions !== null
        && (streamOptions as Record<string, unknown>)['include_usage'] === true;
      response.writeHead(200, {
        ...replyHeaders,
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
      });
      let written = 0;
      for (const chunk of completionChunks(plan, ctx, includeUsage)) {
        if (response.destroyed) return;
        if (!response.write(`data: ${JSON.stringify(chunk)}\n\n`)) await waitForDrain(response);
        written += 1;
        // Let other requests through now and then during a long answer.
        if (written % 256 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      if (!response.destroyed) response.end('data: [DONE]\n\n');
    } catch (error) {
      if (error instanceof MockRequestError) {
        sendError(response, error, replyHeaders);
        return;
      }
      throw error;
    }
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const method = request.method ?? 'GET';
    const path = request.url ?? '/';
    const headers = recordHeaders(request);
    const body = await readBody(request);
    const record: RecordedRequest = { method, path, headers, body };
    requests.push(record);
    if (options.onRequest !== undefined) {
      const report = options.onRequest;
      response.once('close', () => {
        record.status = response.headersSent ? response.statusCode : 0;
        report(record);
      });
    }
    const pathname = path.split('?')[0] ?? path;
    if (openApi !== undefined && pathname === '/') return openApi.serve(record, response);
    const route = pathname.startsWith(`${MOCK_API_PREFIX}/`) ? pathname.slice(MOCK_API_PREFIX.length) : null;
    const known = route === CERTIFICATE_PATH || route === CHAT_COMPLETIONS_SUFFIX || route === BATCH_CHAT_COMPLETIONS_SUFFIX;
    if (!known) throw new MockRequestError(404, 'NotFound', `no such endpoint: ${method} ${pathname}`, 'NotFound');
    if (method !== 'POST') throw new MockRequestError(405, 'MethodNotAllowed', `use POST for ${pathname}`, 'BadRequest');
    if (route === CERTIFICATE_PATH) serveCertificate(record, response);
    else await serveChat(record, response);
  };

  const server = createServer((request, response) => {
    // CORS, so that a page on another origin (the browser test) can call the mock; a preflight
    // is answered here and not recorded.
    for (const [name, value] of Object.entries(CORS_HEADERS)) response.setHeader(name, value);
    if (request.method === 'OPTIONS') {
      response.writeHead(204, { 'access-control-max-age': '600' });
      response.end();
      return;
    }
    handle(request, response).catch((error: unknown) => {
      if (response.headersSent) {
        response.destroy();
        return;
      }
      const refused = error instanceof MockRequestError ? error
        : new MockRequestError(500, 'InternalServiceError', `mock server error: ${String(error)}`, 'InternalServerError');
      sendError(response, refused);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // A deep accept queue: load tests open a thousand connections at once (Node's default is 511).
    server.listen({ port: options.port ?? 0, host, backlog: 4096 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;

  return {
    url: `http://${urlHost(host)}:${port}${MOCK_API_PREFIX}`,
    port,
    certificatePem: certificate.certificatePem,
    certificate,
    privateKey: certificate.privateKey,
    requests,
    stats,
    openApiUrl: openApi === undefined ? undefined : `http://${urlHost(host)}:${port}`,
    openApi,
    get certificateRequests(): number {
      return stats.certificateRequests;
    },
    server,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
