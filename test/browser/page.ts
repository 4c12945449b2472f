/**
 * The browser test's page (bundled by test/browser/browser.test.ts with esbuild for the
 * browser): the browser entry of the library, through createEncryptedFetch, against the mock Ark
 * server named by `?api=`; a plain chat, a streamed chat and a chat with a base64 image. The
 * decrypted answers go to `window.__results`.
 */
import {
  createEncryptedFetch,
  createSession,
  encryptChatRequestAsync,
  InvalidKeyError,
  parseCertificate,
  resolveBackend,
  sessionFromKey,
} from '../../src/browser.js';
import { loadNoble } from '../../src/crypto/select.js';
import { webCryptoSessionCrypto } from '../../src/crypto/session-crypto.js';
import { webCryptoAgree, type AgreementSubtle } from '../../src/crypto/webcrypto-agree.js';
import { sessionWith } from '../../src/protocol/session-async.js';
import handshakeVectors from '../../vectors/handshake.json' with { type: 'json' };
import extraHandshakeVectors from '../../vectors/extra_handshake.json' with { type: 'json' };
import encryptRequestVectors from '../../vectors/encrypt_request.json' with { type: 'json' };
import extraEncryptRequestVectors from '../../vectors/extra_encrypt_request.json' with { type: 'json' };
import {
  BROWSER_API_KEY,
  BROWSER_MODEL,
  imageMessages,
  PLAIN_MESSAGES,
  STREAMED_MESSAGES,
  type PageResults,
} from './scenarios.js';

declare global {
  interface Window {
    __results?: PageResults;
  }
}

interface Completion {
  choices?: { message?: { content?: string }; delta?: { content?: string } }[];
}

const api = new URL(location.href).searchParams.get('api') ?? '';
const encryptedFetch = createEncryptedFetch({ cacheDir: false });

function chat(body: Record<string, unknown>): Promise<Response> {
  return encryptedFetch(`${api}/chat/completions`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${BROWSER_API_KEY}`,
      'content-type': 'application/json',
      'x-is-encrypted': 'true',
    },
    body: JSON.stringify({ model: BROWSER_MODEL, ...body }),
  });
}

async function plainChat(messages: unknown[]): Promise<{ status: number; contentType: string | null; content: string }> {
  const response = await chat({ messages });
  const json = (await response.json()) as Completion;
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    content: json.choices?.[0]?.message?.content ?? '',
  };
}

/** Reads the decrypted event stream from the Response body, as a browser client would. */
async function streamedChat(): Promise<NonNullable<PageResults['streamed']>> {
  const response = await chat({ messages: STREAMED_MESSAGES, stream: true });
  if (!response.body) throw new Error('the streamed answer has no body');
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  let content = '';
  let chunks = 0;
  let done = false;
  for (;;) {
    const { value, done: ended } = await reader.read();
    if (ended) break;
    buffered += value;
    let end: number;
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const event = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      for (const line of event.split('\n')) {
        if (!line.startsWith('data:')) continue;
        const data = line.slice(5).trim();
        if (data === '[DONE]') {
          done = true;
          continue;
        }
        const chunk = JSON.parse(data) as Completion;
        chunks += 1;
        content += chunk.choices?.[0]?.delta?.content ?? '';
      }
    }
  }
  return { status: response.status, contentType: response.headers.get('content-type'), content, chunks, done };
}

/**
 * A PNG drawn here, as a base64 data: URL: noise, so that it does not compress and its URL is
 * longer than WEBCRYPTO_MIN_TEXT_LENGTH (the image goes through WebCrypto, as real images do).
 */
function drawImage(): string {
  const canvas = document.createElement('canvas');
  canvas.width = 160;
  canvas.height = 160;
  const context = canvas.getContext('2d');
  if (!context) throw new Error('no 2d canvas');
  const pixels = context.createImageData(160, 160);
  crypto.getRandomValues(pixels.data.subarray(0, 65536));
  crypto.getRandomValues(pixels.data.subarray(65536));
  for (let i = 3; i < pixels.data.length; i += 4) pixels.data[i] = 255;
  context.putImageData(pixels, 0, 0);
  context.fillStyle = '#ffd33d';
  context.fillRect(8, 8, 16, 16);
  return canvas.toDataURL('image/png');
}

interface RequestVector {
  name: string;
  key: string;
  nonce: string;
  request: unknown;
  expect_request?: unknown;
  expect_error?: string;
}

const fromHex = (hex: string): Uint8Array => Uint8Array.from(hex.match(/../g) ?? [], (byte) => parseInt(byte, 16));

function sameJson(a: unknown, b: unknown): boolean {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return a === b;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => sameJson((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}

/** The encrypt_request vectors through encryptChatRequestAsync, every text on Chromium's WebCrypto. */
async function asyncVectors(): Promise<NonNullable<PageResults['asyncVectors']>> {
  const subtle = crypto.subtle;
  const encrypt = subtle.encrypt.bind(subtle);
  let subtleCalls = 0;
  subtle.encrypt = (...args: Parameters<SubtleCrypto['encrypt']>) => {
    subtleCalls++;
    return encrypt(...args);
  };
  const failures: string[] = [];
  let checked = 0;
  try {
    const cases = [...encryptRequestVectors.cases, ...extraEncryptRequestVectors.cases] as RequestVector[];
    for (const c of cases) {
      checked++;
      const session = sessionFromKey(fromHex(c.key), fromHex(c.nonce), { backend: 'noble' });
      try {
        const got = await encryptChatRequestAsync(c.request, session, { webCryptoMinLength: 0, onWarning: () => {} });
        if (c.expect_error !== undefined) failures.push(`${c.name}: expected ${c.expect_error}, got a request`);
        else if (!sameJson(got, c.expect_request)) failures.push(`${c.name}: a different request`);
      } catch (error) {
        if (c.expect_error === undefined) failures.push(`${c.name}: ${(error as Error).message}`);
      }
    }
  } finally {
    subtle.encrypt = encrypt;
  }
  return { checked, failures, subtleCalls };
}

interface HandshakeVector {
  name: string;
  certificate: string;
  ephemeral_private_key: string;
  aicc: boolean;
  expect: { session_token: string; key: string; nonce: string };
}

const toHex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
const base64url = (bytes: Uint8Array): string => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

/**
 * The handshake vectors on Chromium's WebCrypto: each fixed scalar imported as a JWK (d, with x
 * and y from the noble session's token, which is the scalar's public point), then a session made
 * as createEncryptedFetch makes them. And a peer point off the curve, refused in noble's words.
 */
async function handshakeOnWebCrypto(): Promise<NonNullable<PageResults['webCryptoHandshakes']>> {
  const subtle = crypto.subtle as unknown as AgreementSubtle;
  const failures: string[] = [];
  const cases = [...handshakeVectors.cases, ...extraHandshakeVectors.cases] as unknown as HandshakeVector[];
  for (const c of cases) {
    const certificate = parseCertificate(c.certificate);
    const scalar = fromHex(c.ephemeral_private_key);
    const token = createSession(certificate, { backend: 'noble', unsafeFixedEphemeralKeyForTests: scalar }).token;
    const point = Uint8Array.from(atob(token), (ch) => ch.charCodeAt(0));
    const jwk = { kty: 'EC', crv: 'P-256', x: base64url(point.subarray(1, 33)), y: base64url(point.subarray(33, 65)) };
    const algorithm = { name: 'ECDH', namedCurve: 'P-256' };
    const pair = {
      privateKey: await crypto.subtle.importKey('jwk', { ...jwk, d: base64url(scalar) }, algorithm, false, ['deriveBits']),
      publicKey: await crypto.subtle.importKey('jwk', jwk, algorithm, true, []),
    };
    const session = await sessionWith(webCryptoSessionCrypto(subtle, loadNoble, pair), certificate, c.aicc);
    const got = { session_token: session.token, key: toHex(session.key), nonce: toHex(session.nonce) };
    const want = { session_token: c.expect.session_token, key: c.expect.key, nonce: c.expect.nonce };
    if (JSON.stringify(got) !== JSON.stringify(want)) failures.push(`${c.name}: ${JSON.stringify(got)}`);
  }
  const generator = fromHex(
    '046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5',
  );
  const offCurve = generator.slice();
  offCurve[64]! ^= 1;
  const refusal = await webCryptoAgree(subtle, offCurve).then(
    () => 'accepted',
    // By class, not by name: the bundle is minified.
    (error: unknown) => (error instanceof InvalidKeyError ? `InvalidKeyError: ${error.message}` : String(error)),
  );
  return { checked: cases.length, failures, offCurveRefusal: refusal };
}

async function run(): Promise<PageResults> {
  const results: PageResults = {
    backend: resolveBackend('auto').name,
    hasProcess: typeof (globalThis as { process?: unknown }).process !== 'undefined',
  };
  try {
    results.plain = await plainChat(PLAIN_MESSAGES);
    results.streamed = await streamedChat();
    const dataUrl = drawImage();
    results.image = { ...(await plainChat(imageMessages(dataUrl))), dataUrl };
    results.asyncVectors = await asyncVectors();
    results.webCryptoHandshakes = await handshakeOnWebCrypto();
  } catch (error) {
    results.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  }
  return results;
}

void run().then((results) => {
  window.__results = results;
});
