#!/usr/bin/env node
/**
 * npm run bench:browser: in headless Chromium (found as the browser test finds it,
 * scripts/find-chromium.mjs), a chat request carrying a 5 MB image encrypted with
 * encryptChatRequestAsync (WebCrypto for the image) and with encryptChatRequest on noble,
 * beside the raw WebCrypto work on the same bytes (UTF-8, key import, AES-GCM, base64), all in
 * one page run; medians of 9 runs after a warm-up. The aim (issue 12): the async request at
 * most 3 times the raw work. Then the handshake: sessions on noble and on WebCrypto.
 *
 *   npm run bench:browser             the table
 *   npm run bench:browser -- --json   JSON instead
 */
/* global window */
import { createServer } from 'node:http';
import { chromium } from 'playwright-core';
import { bundleForBrowser } from '../../scripts/bundle-size.mjs';
import { findChromium } from '../../scripts/find-chromium.mjs';

const found = await findChromium();
if (!found) {
  console.error('bench:browser: no Chromium found (CHROMIUM_PATH, a system Chromium, or @sparticuz/chromium from npm install)');
  process.exit(2);
}
const { outputFiles } = await bundleForBrowser('bench/browser/page.ts');
const code = outputFiles[0].text;
const html = '<!doctype html><meta charset="utf-8"><title>ark-e2ee browser bench</title><script type="module" src="/page.js"></script>';
const server = createServer((request, response) => {
  if (request.url === '/') response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
  else if (request.url === '/page.js') response.writeHead(200, { 'content-type': 'text/javascript' }).end(code);
  else response.writeHead(404).end();
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const browser = await chromium.launch({
  executablePath: found.executablePath,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
try {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${server.address().port}/`, { waitUntil: 'commit' });
  await page.waitForFunction(() => window.__bench !== undefined, undefined, { timeout: 300_000 });
  const results = await page.evaluate(() => window.__bench);
  if (results.error) throw new Error(results.error);
  const ratio = results.asyncRequest / results.rawWebCrypto;
  const out = { chromium: browser.version(), executable: found.executablePath, source: found.source, ...results, ratio };
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(out, null, 2));
  } else {
    const ms = (value) => `${value.toFixed(1)} ms`.padStart(10);
    console.log(`Chromium ${out.chromium} (${found.source}); a request with a ${(results.imageBytes / 2 ** 20).toFixed(0)} MB image (data: URL of ${(results.dataUrlLength / 1e6).toFixed(2)} M characters); medians of ${results.runs} runs`);
    console.log(`raw WebCrypto (UTF-8, importKey, AES-GCM, base64) ${ms(results.rawWebCrypto)}`);
    const steps = results.rawSteps;
    console.log(`  of which UTF-8 ${steps.utf8.toFixed(1)} ms, importKey + AES-GCM ${steps.aesGcm.toFixed(1)} ms, base64 ${steps.base64.toFixed(1)} ms (${results.nativeBase64 ? 'Uint8Array.prototype.toBase64' : 'btoa'})`);
    console.log(`encryptChatRequestAsync + JSON (WebCrypto)        ${ms(results.asyncRequest)}   ${ratio.toFixed(2)}x raw (aim: at most 3x)`);
    console.log(`encryptChatRequest + JSON (noble, synchronous)    ${ms(results.syncNobleRequest)}   ${(results.syncNobleRequest / results.rawWebCrypto).toFixed(2)}x raw`);
    const b = results.longestBlock;
    console.log(`longest main-thread block in one run: raw ${b.rawWebCrypto.toFixed(1)} ms, async ${b.asyncRequest.toFixed(1)} ms, noble ${b.syncNobleRequest.toFixed(1)} ms`);
    console.log(`same bytes on both paths: ${results.sameBytes ? 'yes' : 'NO'}`);
    const h = results.handshake;
    console.log(`one session (ECDH + HKDF), median of 20 in a row: noble ${h.noble.toFixed(2)} ms, WebCrypto ${h.webCrypto.toFixed(2)} ms (${(h.noble / h.webCrypto).toFixed(1)}x)`);
    console.log(`longest main-thread block in 20 sessions: noble ${h.longestBlock.noble.toFixed(1)} ms, WebCrypto ${h.longestBlock.webCrypto.toFixed(1)} ms`);
  }
  if (!results.sameBytes) process.exitCode = 1;
} finally {
  await browser.close();
  server.close();
}
