/**
 * The library in a real browser (issue 6): test/browser/page.ts, bundled here with esbuild for
 * the browser, runs in headless Chromium (driven by playwright-core) and calls the mock Ark
 * server on another origin (CORS) through createEncryptedFetch: a plain chat, a streamed chat and
 * a chat with a base64 image. The bundle must hold no `node:` module and none of our Node-only
 * modules.
 *
 * The Chromium is found by scripts/find-chromium.mjs: CHROMIUM_PATH, then the usual system paths,
 * then the one shipped inside the @sparticuz/chromium dev dependency, so a bare `npm install`
 * is enough. The test prints which binary it drove. When none is found the Chromium half fails;
 * ARK_E2EE_SKIP_BROWSER=1 skips it instead, saying so.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WEBCRYPTO_MIN_TEXT_LENGTH } from '../../src/protocol/request-async.js';
import { mockAnswerText, startMockArkServer, type MockArkServer } from '../../src/testing/index.js';
import {
  BROWSER_API_KEY,
  IMAGE_PROMPT,
  imageMessages,
  PLAIN_MESSAGES,
  STREAMED_MESSAGES,
  type PageResults,
} from './scenarios.js';
import { bundleForBrowser } from '../../scripts/bundle-size.mjs';
import { findChromium } from '../../scripts/find-chromium.mjs';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const skipBrowser = process.env.ARK_E2EE_SKIP_BROWSER === '1';
const inCI = Boolean(process.env.CI);
const root = fileURLToPath(new URL('../..', import.meta.url));

/** Our modules that only Node has (as source or as built): none of them may reach a browser bundle. */
const NODE_ONLY = [
  /^node:/,
  /^(src|dist)\/certificates\/(disk-cache|safe-file)\.[jt]s$/,
  /^(src|dist)\/crypto\/(node|native-node)\.[jt]s$/,
  /^(src|dist)\/certificates\/(files-node|certificate-file)\.[jt]s$/,
  /^(src|dist)\/index\.[jt]s$/,
  /^(src|dist)\/transport\/(undici\/.*|proxy)\.[jt]s$/,
  /^(src|dist)\/(testing|cli)\//,
  /(^|\/)node_modules\/undici\//,
];

interface Bundle {
  code: string;
  metafile: Metafile;
}

async function bundle(entry: string): Promise<Bundle> {
  const result = await bundleForBrowser(entry);
  return { code: result.outputFiles[0]!.text, metafile: result.metafile };
}

function nodeOnly(paths: string[]): string[] {
  return paths.filter((path) => NODE_ONLY.some((pattern) => pattern.test(path)));
}

function externalImports(metafile: Metafile): string[] {
  return Object.values(metafile.outputs).flatMap((output) => output.imports.map((i) => i.path));
}

describe('the browser bundle', () => {
  it('of the page and of src/browser.ts hold no node: module and none of our Node-only modules', async () => {
    for (const entry of ['test/browser/page.ts', 'src/browser.ts']) {
      const { metafile } = await bundle(entry);
      const inputs = Object.keys(metafile.inputs);
      expect(inputs).toContain('src/transport/encrypted-fetch.ts');
      expect(inputs).toContain('src/crypto/noble.ts');
      expect(nodeOnly(inputs), entry).toEqual([]);
      expect(externalImports(metafile), entry).toEqual([]);
    }
  });

  // dist/ is there under `npm test` (it builds first); a bare `vitest run` may not have it.
  it.skipIf(!existsSync(new URL('../../dist/browser.js', import.meta.url)) && !inCI)(
    "'ark-e2ee' by name: the browser condition picks dist/browser.js, the node condition dist/index.js",
    async () => {
      const byName = async (platform: 'browser' | 'node', specifier = 'ark-e2ee'): Promise<string[]> => {
        const result = await build({
          absWorkingDir: root,
          stdin: { contents: `export * from '${specifier}';`, resolveDir: root, loader: 'js' },
          bundle: true,
          format: 'esm',
          platform,
          // Only our package is followed: the question is which of its files each condition picks.
          external: ['@noble/*', 'eventsource-parser', 'undici'],
          write: false,
          metafile: true,
          logLevel: 'silent',
        });
        return Object.keys(result.metafile.inputs);
      };
      const browser = await byName('browser');
      expect(browser).toContain('dist/browser.js');
      expect(browser).toContain('dist/crypto/native-none.js');
      expect(browser).not.toContain('dist/index.js');
      expect(nodeOnly(browser)).toEqual([]);
      const node = await byName('node');
      expect(node).toContain('dist/index.js');
      expect(node).toContain('dist/crypto/node.js');
      expect(nodeOnly(node)).not.toEqual([]);
    },
  );

  it('the Node entry does reach the Node-only modules (so the check above can fail)', async () => {
    const result = await build({
      absWorkingDir: root,
      entryPoints: ['src/index.ts'],
      bundle: true,
      format: 'esm',
      platform: 'node',
      conditions: ['ark-e2ee-source'],
      packages: 'external',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs).toContain('src/certificates/disk-cache.ts');
    expect(inputs).toContain('src/crypto/node.ts');
  });
});

if (skipBrowser) {
  console.warn('test/browser: SKIPPING the Chromium run, as ARK_E2EE_SKIP_BROWSER=1 asks');
}

describe.skipIf(skipBrowser)('in headless Chromium', () => {
  let mock: MockArkServer;
  let pages: Server;
  let browser: Browser | undefined;
  let pageUrl: string;
  let results: PageResults;
  const consoleLines: string[] = [];

  beforeAll(async () => {
    const found = await findChromium();
    if (!found) {
      throw new Error(
        'no Chromium found: set CHROMIUM_PATH, install Chromium or Chrome, or run `npm install` ' +
          '(it brings @sparticuz/chromium, Linux x64); ARK_E2EE_SKIP_BROWSER=1 skips this test',
      );
    }
    const { code } = await bundle('test/browser/page.ts');
    const html = '<!doctype html><meta charset="utf-8"><title>ark-e2ee browser test</title>' +
      '<script type="module" src="/page.js"></script>';
    pages = createServer((request, response) => {
      const path = (request.url ?? '/').split('?')[0];
      if (path === '/') {
        response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
      } else if (path === '/page.js') {
        response.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(code);
      } else {
        response.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve));
    pageUrl = `http://127.0.0.1:${(pages.address() as AddressInfo).port}/`;
    mock = await startMockArkServer({ apiKey: BROWSER_API_KEY });

    browser = await chromium.launch({ executablePath: found.executablePath, args: CHROMIUM_ARGS, timeout: 60_000 });
    const passedOver = found.notes.length > 0 ? ` (passed over: ${found.notes.join('; ')})` : '';
    console.log(
      `test/browser: Chromium ${browser.version()} at ${found.executablePath}, from ${found.source}${passedOver}`,
    );
    const page = await browser.newPage();
    page.on('console', (message) => consoleLines.push(`${message.type()}: ${message.text()}`));
    page.on('pageerror', (error) => consoleLines.push(`pageerror: ${error.message}`));
    await page.goto(`${pageUrl}?api=${encodeURIComponent(mock.url)}`);
    await page.waitForFunction(() => window.__results !== undefined, undefined, { timeout: 60_000 }).catch(() => {
      throw new Error(`the page wrote no results; its console:\n${consoleLines.join('\n')}`);
    });
    results = (await page.evaluate(() => window.__results))!;
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await mock?.close();
    await new Promise((resolve) => (pages ? pages.close(resolve) : resolve(undefined)));
  });

  it('runs as a browser: no process global, and backend auto is noble', () => {
    expect(results.error, consoleLines.join('\n')).toBeUndefined();
    expect(results.hasProcess).toBe(false);
    expect(results.backend).toBe('noble');
  });

  it('a plain chat: decrypted answer, one certificate fetch for all three chats', () => {
    expect(results.plain).toEqual({
      status: 200,
      contentType: 'application/json; charset=utf-8',
      content: mockAnswerText(PLAIN_MESSAGES),
    });
    expect(mock.stats.certificateRequests).toBe(1);
    expect(mock.stats.chatRequests).toBe(3);
    expect(mock.stats.encryptedRequests).toBe(3);
    // Preflights are answered but not recorded: only the POSTs are here.
    expect(mock.requests.every((request) => request.method === 'POST')).toBe(true);
  });

  it('a streamed chat: the event stream decrypted as it is read from the Response body', () => {
    const streamed = results.streamed!;
    expect(streamed.status).toBe(200);
    expect(streamed.contentType).toContain('text/event-stream');
    expect(streamed.content).toBe(mockAnswerText(STREAMED_MESSAGES));
    expect(streamed.chunks).toBeGreaterThan(3);
    expect(streamed.done).toBe(true);
  });

  it('a chat with a base64 image: encrypted on the wire, opened by the server as sent', () => {
    const image = results.image!;
    expect(image.dataUrl).toMatch(/^data:image\/png;base64,[A-Za-z0-9+/]+=*$/);
    // Long enough to be sealed on WebCrypto (encryptChatRequestAsync), which the mock opened.
    expect(image.dataUrl.length).toBeGreaterThanOrEqual(WEBCRYPTO_MIN_TEXT_LENGTH);
    expect(image.status).toBe(200);
    expect(image.content).toBe(mockAnswerText(imageMessages(image.dataUrl)));
    expect(image.content).toBe(`echo: ${IMAGE_PROMPT} [image]`);
    const imageRequest = mock.requests.find((request) => request.body.includes('image_url'));
    expect(imageRequest?.decryptedMessages).toEqual(imageMessages(image.dataUrl));
  });

  it("sessions made on Chromium's WebCrypto give the handshake vectors, and refuse a point off the curve in noble's words", () => {
    const handshakes = results.webCryptoHandshakes!;
    expect(handshakes.failures).toEqual([]);
    expect(handshakes.checked).toBeGreaterThan(40);
    expect(handshakes.offCurveRefusal).toBe('InvalidKeyError: peer public key is not a valid point on P-256');
  });

  it('encryptChatRequestAsync on WebCrypto gives the encrypt_request vectors, byte for byte', () => {
    const vectors = results.asyncVectors!;
    expect(vectors.failures).toEqual([]);
    expect(vectors.checked).toBeGreaterThan(20);
    expect(vectors.subtleCalls).toBeGreaterThan(vectors.checked);
  });

  it('the server saw no plaintext: not a message, not the image', () => {
    const chats = mock.requests.filter((request) => request.path.endsWith('/chat/completions'));
    expect(chats).toHaveLength(3);
    const secrets = [
      ...PLAIN_MESSAGES.map((message) => message.content),
      ...STREAMED_MESSAGES.map((message) => message.content),
      IMAGE_PROMPT,
      results.image!.dataUrl,
      results.image!.dataUrl.slice('data:image/png;base64,'.length, 60),
    ];
    for (const chat of chats) {
      expect(chat.headers['x-is-encrypted']).toBe('true');
      const body = chat.body;
      for (const secret of secrets) expect(body).not.toContain(secret);
      expect(body).not.toContain(JSON.stringify(secrets[1]!).slice(1, -1));
    }
  });
});
