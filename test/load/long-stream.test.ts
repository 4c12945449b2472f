/**
 * Issue 7, load: a streamed answer of 50 000 000 characters (`mock-long`, 4 096 characters per
 * event, ~60 MB of UTF-8 and ~80 MB of base64 on the wire) read through createEncryptedFetch in a
 * child process (long-stream.mjs) while the mock server runs in another (serve-mock.mjs): every
 * character checked, and the reader's resident set grows by less than 64 MB.
 */
import { expect, it } from 'vitest';
import { runChild, startChild } from './child.js';

const LENGTH = 50_000_000;
const API_KEY = 'stream-test-key';

interface Result {
  characters: number;
  events: number;
  bytes: number;
  elapsedMs: number;
  startRssMB: number;
  baselineRssMB: number;
  peakRssMB: number;
  rssGrowthMB: number;
  peakHeapUsedMB: number;
}

it('a 50 MB streamed answer goes through the fetch wrapper in bounded memory (RSS growth < 64 MB)', async () => {
  const server = startChild('serve-mock.mjs', { API_KEY });
  try {
    const { url } = JSON.parse(await server.nextLine()) as { url: string };
    const { result, code } = await runChild<Result>('long-stream.mjs', {
      URL: url, API_KEY, LENGTH: String(LENGTH), CHUNK: '4096',
    });
    console.log(
      `50 M characters streamed: ${result.events} events, ${(result.bytes / 1e6).toFixed(1)} MB decrypted output in ` +
        `${result.elapsedMs} ms; RSS at start ${result.startRssMB} MB, after a one-event warm-up ${result.baselineRssMB} MB, ` +
        `peak ${result.peakRssMB} MB (growth ${result.rssGrowthMB} MB), ` +
        `peak V8 heap in use ${result.peakHeapUsedMB} MB`,
    );
    expect(code).toBe(0);
    expect(result.characters).toBe(LENGTH);
    expect(result.rssGrowthMB).toBeLessThan(64);
  } finally {
    server.process.stdin.end();
    await server.exited;
  }
}, 150_000);
