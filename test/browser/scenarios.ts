/** What the browser page sends (test/browser/page.ts) and what it reports back to the test. */

export const BROWSER_API_KEY = 'browser-test-key';
export const BROWSER_MODEL = 'mock-model';

export const PLAIN_MESSAGES = [
  { role: 'system', content: 'You answer in one line.' },
  { role: 'user', content: 'Bonjour from Chromium: 你好，世界 🌍' },
];

export const STREAMED_MESSAGES = [{ role: 'user', content: 'Stream this back to the browser, please: 流式 ✓' }];

export const IMAGE_PROMPT = 'What is in this browser-made picture?';

/** The messages of the image chat, around the data: URL the page draws. */
export function imageMessages(dataUrl: string): unknown[] {
  return [
    {
      role: 'user',
      content: [
        { type: 'text', text: IMAGE_PROMPT },
        { type: 'image_url', image_url: { url: dataUrl } },
      ],
    },
  ];
}

export interface ChatResult {
  status: number;
  contentType: string | null;
  content: string;
}

export interface PageResults {
  /** `resolveBackend('auto').name` inside the page. */
  backend: string;
  /** Whether the page saw a `process` global (it must not: this is a browser). */
  hasProcess: boolean;
  plain?: ChatResult;
  streamed?: ChatResult & { chunks: number; done: boolean };
  image?: ChatResult & { dataUrl: string };
  /** The encrypt_request vectors through encryptChatRequestAsync on Chromium's WebCrypto. */
  asyncVectors?: { checked: number; failures: string[]; subtleCalls: number };
  /** The handshake vectors on Chromium's WebCrypto, and how it refuses a point off the curve. */
  webCryptoHandshakes?: { checked: number; failures: string[]; offCurveRefusal: string };
  error?: string;
}
