/**
 * The browser test's page (bundled by test/browser/browser.test.ts with esbuild for the
 * browser): the browser entry of the library, through createEncryptedFetch, against the mock Ark
 * server named by `?api=`; a plain chat, a streamed chat and a chat with a base64 image. The
 * decrypted answers go to `window.__results`.
 */
import { createEncryptedFetch, resolveBackend } from '../../src/browser.js';
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

/** A small PNG drawn here, as a base64 data: URL. */
function drawImage(): string {
  const canvas = document.createElement('canvas');
  canvas.width = 48;
  canvas.height = 32;
  const context = canvas.getContext('2d');
  if (!context) throw new Error('no 2d canvas');
  context.fillStyle = '#1f6feb';
  context.fillRect(0, 0, 48, 32);
  context.fillStyle = '#ffd33d';
  context.fillRect(8, 8, 16, 16);
  return canvas.toDataURL('image/png');
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
  } catch (error) {
    results.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  }
  return results;
}

void run().then((results) => {
  window.__results = results;
});
