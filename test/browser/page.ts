/**
 * The browser test's page (bundled by test/browser/browser.test.ts with esbuild for the
 * browser): the browser entry of the library, through createEncryptedFetch, against the mock Ark
 * server named by `?api=`; a plain chat, a streamed chat and a chat with a base64 image. The
 * decrypted answers go to `window.__results`.
 */
import { createEncryptedFetch, encryptChatRequestAsync, resolveBackend, sessionFromKey } from '../../src/browser.js';
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
  } catch (error) {
    results.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  }
  return results;
}

void run().then((results) => {
  window.__results = results;
});
