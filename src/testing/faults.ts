/**
 * Fault modes of the mock service, for the fault tests (test/faults): what a broken network, a
 * broken or hostile gateway, or a broken certificate service would do.
 *
 * Chat answers, chosen by the request's `model` (names in MOCK_MODELS), always the usual answer
 * (`echo: …`) delivered wrong:
 * - `fault-cut-stream`: streamed, the events of the first half of the answer, then half an event
 *   and a clean end of the body; non-streamed, the first half of the JSON and a clean end.
 * - `fault-reset`: the first half of the answer (streamed: events; non-streamed: JSON bytes under
 *   a `content-length` of the whole), then the TCP connection is reset.
 * - `fault-plain`: every text the service should encrypt is sent in plain text.
 * - `fault-other-session`: every text is encrypted, but under another session's key and nonce.
 * - `fault-replay`: whole ciphertexts out of order and repeated (replayedOrder): streamed, the
 *   first two chunks swapped and the first repeated; non-streamed, the same with the pieces of a
 *   content laid end to end (mockPieces). Every ciphertext authenticates: the protocol binds no
 *   ciphertext to its position (docs/protocol.md §7), so a client cannot notice.
 * - `fault-hang`: never answers (the connection stays open until the client or close() ends it).
 *
 * Certificate endpoint, for a whole server (`certificateFault` option of startMockArkServer),
 * after the usual checks of the request (API key, X-Session-Token, body):
 * `hang` (never answers), `500`, `403` (Ark-style error JSON), `invalid-json` (200, a body cut
 * short), `error-member` (200, `{"error": {…}}`), `garbage-pem` (a PEM block that is no
 * certificate), `p384` (a well-formed certificate with a P-384 key), `expired` and
 * `not-yet-valid` (well-formed P-256 certificates outside their validity period), `redirect` (a
 * 307 to the same path on another origin, `localhost` for `127.0.0.1` and back), `oversized` (200
 * and a body that never ends, written as fast as the client reads it).
 */
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Certificate, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { createMockCertificate, toPem } from './certificate-authority.js';
import { PEM_CERTIFICATE_BEGIN, encodePem } from '../protocol/pem.js';
import { completionBody, completionChunks, errorBody, type ResponseContext } from './responses.js';
import { MOCK_MODELS, mockPieces, type AnswerPlan } from './scenarios.js';
import { serverEncrypt } from './service-crypto.js';

export const CERTIFICATE_FAULTS = [
  'hang',
  '500',
  '403',
  'invalid-json',
  'error-member',
  'garbage-pem',
  'p384',
  'expired',
  'not-yet-valid',
  'redirect',
  'oversized',
] as const;
/** How the certificate endpoint fails (see the module comment). */
export type CertificateFault = (typeof CERTIFICATE_FAULTS)[number];

export type ChatFault = 'cut-stream' | 'reset' | 'plain' | 'other-session' | 'replay' | 'hang';

const CHAT_FAULTS: ReadonlyMap<string, ChatFault> = new Map<string, ChatFault>([
  [MOCK_MODELS.faultCutStream, 'cut-stream'],
  [MOCK_MODELS.faultReset, 'reset'],
  [MOCK_MODELS.faultPlain, 'plain'],
  [MOCK_MODELS.faultOtherSession, 'other-session'],
  [MOCK_MODELS.faultReplay, 'replay'],
  [MOCK_MODELS.faultHang, 'hang'],
]);

/** The chat fault a model name asks for, if any. */
export function chatFaultForModel(model: string): ChatFault | undefined {
  return CHAT_FAULTS.get(model);
}

/**
 * The order `fault-replay` sends whole ciphertexts in: the first two swapped, then the first
 * repeated, then the rest: `[b, a, a, c, …]` for `[a, b, c, …]` (`[a, a]` for `[a]`).
 */
export function replayedOrder<T>(items: readonly T[]): T[] {
  const [first, second, ...rest] = items;
  if (first === undefined) return [];
  if (second === undefined) return [first, first];
  return [second, first, first, ...rest];
}

const PLAIN_CERTIFICATE_ANSWER = 'ark-e2ee mock fault';
const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;
const OID_ECDSA_WITH_SHA384 = '1.2.840.10045.4.3.3';
const RESET_DELAY_MS = 20;

function send(response: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
  });
  response.end(text);
}

/** Writes `text`, then resets the connection once it is on its way. */
function writeThenReset(response: ServerResponse, text: string): void {
  response.write(text, () => {
    // A moment for the bytes to reach the client before the reset overtakes them.
    setTimeout(() => {
      const socket = response.socket;
      if (socket && typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
      else response.destroy();
    }, RESET_DELAY_MS);
  });
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** A well-formed self-signed certificate whose key is on P-384 rather than P-256. */
export function p384CertificatePem(): string {
  const certificate = AsnConvert.parse(createMockCertificate().certificateDer, Certificate);
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const tbs = certificate.tbsCertificate;
  tbs.subjectPublicKeyInfo = AsnConvert.parse(publicKey.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo);
  tbs.signature = new AlgorithmIdentifier({ algorithm: OID_ECDSA_WITH_SHA384 });
  certificate.signatureAlgorithm = new AlgorithmIdentifier({ algorithm: OID_ECDSA_WITH_SHA384 });
  const tbsDer = new Uint8Array(AsnConvert.serialize(tbs));
  certificate.signatureValue = toArrayBuffer(sign('sha384', tbsDer, { key: privateKey, dsaEncoding: 'der' }));
  return toPem(new Uint8Array(AsnConvert.serialize(certificate)));
}

/** Answers one certificate request with `fault` instead of the certificate. */
export function answerCertificateFault(fault: CertificateFault, response: ServerResponse): void {
  const now = Date.now();
  const certificate = (pem: string): void => send(response, 200, JSON.stringify({ Certificate: pem }));
  switch (fault) {
    case 'hang':
      return;
    case '500':
      return send(response, 500, JSON.stringify(errorBody('InternalServiceError',
        'The service encountered an unexpected internal error.', 'InternalServerError')));
    case '403':
      return send(response, 403, JSON.stringify(errorBody('AccessDenied',
        'The request is not authorized to get the certificate of this model.', 'Forbidden')));
    case 'invalid-json':
      return send(response, 200, `{"Certificate": "${PEM_CERTIFICATE_BEGIN}\\nMIIB`);
    case 'error-member':
      return send(response, 200, JSON.stringify(errorBody('ModelNotOpen',
        'Encryption is not enabled for this model.', 'BadRequest')));
    case 'garbage-pem':
      return certificate(encodePem(new TextEncoder().encode(PLAIN_CERTIFICATE_ANSWER)));
    case 'p384':
      return certificate(p384CertificatePem());
    case 'expired':
      return certificate(createMockCertificate({
        notBefore: new Date(now - 30 * DAY_MS), notAfter: new Date(now - DAY_MS),
      }).certificatePem);
    case 'not-yet-valid':
      return certificate(createMockCertificate({
        notBefore: new Date(now + DAY_MS), notAfter: new Date(now + 30 * DAY_MS),
      }).certificatePem);
    case 'redirect':
      return redirectElsewhere(response);
    case 'oversized':
      return writeForever(response);
  }
}

/** A 307 to the same path on another origin of this server (another host name for it). */
function redirectElsewhere(response: ServerResponse): void {
  const { req } = response;
  const host = req.headers.host ?? `127.0.0.1:${req.socket.localPort ?? 0}`;
  const port = host.slice(host.lastIndexOf(':') + 1);
  const other = host.startsWith('localhost') ? '127.0.0.1' : 'localhost';
  response.writeHead(307, { location: `http://${other}:${port}${req.url ?? '/'}`, 'content-length': '0' });
  response.end();
}

/** A certificate answer that never ends: 64 KiB after 64 KiB, as fast as the client takes them. */
function writeForever(response: ServerResponse): void {
  response.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
  response.write('{"Certificate": "');
  const chunk = Buffer.alloc(64 * 1024, 'A');
  const more = (): void => {
    while (!response.destroyed && response.write(chunk));
    if (!response.destroyed) response.once('drain', more);
  };
  more();
}

export interface FaultyAnswer {
  response: ServerResponse;
  plan: AnswerPlan;
  /** The answer's context; its `seal` is the request's session. */
  ctx: ResponseContext;
  /** The (decrypted) request body: `stream`, `stream_options`. */
  request: Record<string, unknown>;
  /** Headers every answer carries (x-request-id…). */
  headers: Record<string, string>;
}

function eventOf(chunk: unknown): string {
  return `data: ${JSON.stringify(chunk)}\n\n`;
}

/** Answers one chat request with `fault` (see the module comment). */
export function answerWithFault(fault: ChatFault, answer: FaultyAnswer): void {
  const { response, plan, request, headers } = answer;
  if (fault === 'hang') return;
  let { ctx } = answer;
  if (fault === 'plain') ctx = { ...ctx, seal: (text) => text };
  if (fault === 'other-session') {
    const key = randomBytes(32);
    const nonce = randomBytes(12);
    ctx = { ...ctx, seal: (text) => serverEncrypt(key, nonce, text) };
  }
  const streamOptions = request['stream_options'];
  const includeUsage = typeof streamOptions === 'object' && streamOptions !== null
    && (streamOptions as Record<string, unknown>)['include_usage'] === true;

  if (request['stream'] !== true) {
    let body = completionBody(plan, ctx);
    if (fault === 'replay' && plan.content !== null) {
      const content = replayedOrder(mockPieces(plan.content)).map(ctx.seal).join('');
      const [first, ...others] = body['choices'] as Record<string, unknown>[];
      body = { ...body, choices: [{ ...first, message: { ...(first?.['message'] as object), content } }, ...others] };
    }
    const text = JSON.stringify(body);
    const half = text.slice(0, Math.floor(text.length / 2));
    if (fault === 'cut-stream') {
      response.writeHead(200, { ...headers, 'content-type': 'application/json; charset=utf-8' });
      response.end(half);
    } else if (fault === 'reset') {
      response.writeHead(200, {
        ...headers,
        'content-type': 'application/json; charset=utf-8',
        'content-length': String(Buffer.byteLength(text)),
      });
      writeThenReset(response, half);
    } else {
      send(response, 200, text, headers);
    }
    return;
  }

  let events = [...completionChunks(plan, ctx, includeUsage)].map(eventOf);
  if (fault === 'replay') events = replayedOrder(events);
  events.push('data: [DONE]\n\n');
  response.writeHead(200, { ...headers, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  const half = Math.max(1, Math.floor(events.length / 2));
  const head = events.slice(0, half).join('');
  if (fault === 'cut-stream') {
    const next = events[half] ?? 'data: [DONE]';
    response.end(head + next.slice(0, Math.floor(next.length / 2)));
  } else if (fault === 'reset') {
    writeThenReset(response, head);
  } else {
    response.end(events.join(''));
  }
}
