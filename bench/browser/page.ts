/**
 * The browser benchmark's page (bundled by bench/browser/run.mjs for the browser): the cost of
 * encrypting a chat request that carries a 5 MB image, in Chromium, beside the raw WebCrypto work
 * the same bytes need (issue 12). Results go to `window.__bench`.
 */
import { createSession, encryptChatRequest, encryptChatRequestAsync, parseCertificate, sessionFromKey } from '../../src/browser.js';
import { loadNoble } from '../../src/crypto/select.js';
import { sessionCrypto } from '../../src/crypto/session-crypto.js';
import { sessionWith } from '../../src/protocol/session-async.js';
import handshakeVectors from '../../vectors/handshake.json' with { type: 'json' };

declare global {
  interface Window {
    __bench?: BenchResults | { error: string };
  }
}

export interface BenchResults {
  imageBytes: number;
  dataUrlLength: number;
  runs: number;
  /** Median ms of each task. */
  rawWebCrypto: number;
  asyncRequest: number;
  syncNobleRequest: number;
  /** The longest the main thread was held at once (ms) during one run of each: what a page would freeze for. */
  longestBlock: { rawWebCrypto: number; asyncRequest: number; syncNobleRequest: number };
  /** The raw work's steps, medians: UTF-8 encoding, importKey + AES-GCM, base64. */
  rawSteps: { utf8: number; aesGcm: number; base64: number };
  nativeBase64: boolean;
  sameBytes: boolean;
  /**
   * One session (ECDH P-256 + HKDF, protocol §2) with the same certificate each time: median ms
   * and the longest main-thread block over 20 sessions, on noble (synchronous, what every session
   * cost before) and on WebCrypto (what createEncryptedFetch's sessions cost now).
   */
  handshake: { noble: number; webCrypto: number; longestBlock: { noble: number; webCrypto: number } };
  userAgent: string;
}

const IMAGE_BYTES = 5 * 1024 * 1024;
const RUNS = 9;

const toBase64 = (bytes: Uint8Array): string => {
  const native = (bytes as { toBase64?: () => string }).toBase64;
  if (typeof native === 'function') return native.call(bytes);
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
};

function randomBytes(length: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(length);
  for (let at = 0; at < length; at += 65536) crypto.getRandomValues(bytes.subarray(at, Math.min(length, at + 65536)));
  return bytes;
}

async function median(task: () => Promise<unknown>): Promise<number> {
  await task(); // warm-up
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    await task();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

/** Runs `task` once while a MessageChannel ping-pong measures the longest gap between its turns. */
async function longestBlock(task: () => Promise<unknown>): Promise<number> {
  const channel = new MessageChannel();
  let last = performance.now();
  let longest = 0;
  let running = true;
  channel.port1.onmessage = () => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    if (running) channel.port2.postMessage(0);
  };
  channel.port2.postMessage(0);
  await task();
  running = false;
  longest = Math.max(longest, performance.now() - last);
  channel.port1.close();
  return longest;
}

async function run(): Promise<BenchResults> {
  const dataUrl = `data:image/png;base64,${toBase64(randomBytes(IMAGE_BYTES))}`;
  const bodyText = JSON.stringify({
    model: 'ep-bench',
    messages: [{ role: 'user', content: [{ type: 'text', text: 'What is in this picture?' }, { type: 'image_url', image_url: { url: dataUrl } }] }],
  });
  const key = randomBytes(32);
  const nonce = randomBytes(12);
  const session = sessionFromKey(key, nonce, { backend: 'noble' });
  const encoder = new TextEncoder();

  // What any client must pay for these bytes: UTF-8, key import, AES-GCM, base64 of the result.
  const raw = async (): Promise<string> => {
    const cryptoKey = await crypto.subtle.importKey('raw', key, 'AES-GCM', false, ['encrypt']);
    const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce, tagLength: 128 }, cryptoKey, encoder.encode(dataUrl));
    return toBase64(new Uint8Array(sealed));
  };
  // What createEncryptedFetch does with the body: parse, encrypt every text, serialise.
  const asyncRequest = async (): Promise<string> => JSON.stringify(await encryptChatRequestAsync(JSON.parse(bodyText), session));
  const syncRequest = async (): Promise<string> => JSON.stringify(encryptChatRequest(JSON.parse(bodyText), session));

  const utf8 = encoder.encode(dataUrl);
  const cryptoKey = await crypto.subtle.importKey('raw', key, 'AES-GCM', false, ['encrypt']);
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce, tagLength: 128 }, cryptoKey, utf8));
  const rawSteps = {
    utf8: await median(async () => encoder.encode(dataUrl)),
    aesGcm: await median(async () => {
      const k = await crypto.subtle.importKey('raw', key, 'AES-GCM', false, ['encrypt']);
      return crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce, tagLength: 128 }, k, utf8);
    }),
    base64: await median(async () => toBase64(sealed)),
  };

  const sameBytes = (await asyncRequest()) === (await syncRequest()) && (await asyncRequest()).includes(await raw());

  const certificate = parseCertificate(handshakeVectors.cases[0]!.certificate);
  const onWebCrypto = await sessionCrypto('auto', undefined, loadNoble);
  const nobleSessions = async (): Promise<void> => {
    for (let i = 0; i < 20; i++) createSession(certificate, { backend: 'noble' });
  };
  const webCryptoSessions = async (): Promise<void> => {
    for (let i = 0; i < 20; i++) await sessionWith(onWebCrypto, certificate, false);
  };
  const handshake = {
    noble: (await median(nobleSessions)) / 20,
    webCrypto: (await median(webCryptoSessions)) / 20,
    longestBlock: { noble: await longestBlock(nobleSessions), webCrypto: await longestBlock(webCryptoSessions) },
  };
  const blocks = {
    rawWebCrypto: await longestBlock(raw),
    asyncRequest: await longestBlock(asyncRequest),
    syncNobleRequest: await longestBlock(syncRequest),
  };
  return {
    longestBlock: blocks,
    imageBytes: IMAGE_BYTES,
    dataUrlLength: dataUrl.length,
    runs: RUNS,
    rawWebCrypto: await median(raw),
    asyncRequest: await median(asyncRequest),
    syncNobleRequest: await median(syncRequest),
    rawSteps,
    nativeBase64: typeof (sealed as { toBase64?: unknown }).toBase64 === 'function',
    sameBytes,
    handshake,
    userAgent: navigator.userAgent,
  };
}

run().then(
  (results) => (window.__bench = results),
  (error: unknown) => (window.__bench = { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }),
);
