/**
 * Child process of long-stream.test.ts: one streamed answer of LENGTH characters (`mock-long`,
 * CHUNK characters per event) from the mock server at URL, read through createEncryptedFetch,
 * checked character by character against mockLongText without ever holding it whole, while the
 * resident set size is sampled. Prints one JSON line: characters, events, time, RSS growth.
 */
import { distModule } from './dist.mjs';

const { createEncryptedFetch } = await distModule('index.js');
const { mockLongModel, mockLongText } = await distModule('testing/index.js');

const URL_BASE = process.env.URL;
const LENGTH = Number(process.env.LENGTH ?? 50_000_000);
const CHUNK = Number(process.env.CHUNK ?? 4096);
const API_KEY = process.env.API_KEY ?? 'stream-test-key';

/** mockLongText repeats one short period: find it, to check any slice without the whole text. */
const sample = mockLongText(4096);
const period = (() => {
  for (let p = 1; p < sample.length; p++) {
    if (sample.slice(p) === sample.slice(0, sample.length - p)) return sample.slice(0, p);
  }
  throw new Error('mockLongText has no short period');
})();
function expectedSlice(offset, length) {
  const start = offset % period.length;
  return period.repeat(Math.ceil((start + length) / period.length) + 1).slice(start, start + length);
}

const encryptedFetch = createEncryptedFetch({ cacheDir: false });
const rssAtStart = process.memoryUsage().rss;

/** Reads one streamed answer; checks every content against the expected text as it comes. */
async function read(length, chunk, onChunk = () => undefined) {
  const response = await encryptedFetch(`${URL_BASE}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'x-is-encrypted': 'true', 'content-type': 'application/json' },
    body: JSON.stringify({ model: mockLongModel(length, chunk), stream: true, messages: [{ role: 'user', content: 'long' }] }),
  });
  if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
  const decoder = new TextDecoder();
  let pending = '';
  let characters = 0;
  let events = 0;
  let bytes = 0;
  let done = false;
  for await (const piece of response.body) {
    bytes += piece.length;
    pending += decoder.decode(piece, { stream: true });
    let end;
    while ((end = pending.indexOf('\n\n')) !== -1) {
      const data = pending.slice(0, end).replace(/^data: /, '');
      pending = pending.slice(end + 2);
      if (data === '[DONE]') {
        done = true;
        continue;
      }
      const content = JSON.parse(data).choices?.[0]?.delta?.content ?? '';
      if (content !== expectedSlice(characters, content.length)) throw new Error(`wrong text at character ${characters}`);
      characters += content.length;
      events += 1;
    }
    onChunk();
  }
  if (!done || pending !== '') throw new Error('the stream did not end with [DONE]');
  return { characters, events, bytes };
}

// Load the modules, fetch the certificate and open a connection with one small answer (a single
// event), then settle: the baseline is taken before the pipeline has seen any volume.
await read(1_000, CHUNK);
globalThis.gc?.();
await new Promise((resolve) => setTimeout(resolve, 100));
const baseline = process.memoryUsage().rss;
let peak = baseline;
let peakHeap = process.memoryUsage().heapUsed;
const sampleRss = () => {
  const { rss, heapUsed } = process.memoryUsage();
  if (rss > peak) peak = rss;
  if (heapUsed > peakHeap) peakHeap = heapUsed;
};
const timer = setInterval(sampleRss, 10);
let reads = 0;
const started = performance.now();
const result = await read(LENGTH, CHUNK, () => {
  if (++reads % 16 === 0) sampleRss();
});
const elapsedMs = performance.now() - started;
clearInterval(timer);
sampleRss();
const MB = 1024 * 1024;
process.stdout.write(`${JSON.stringify({
  ...result,
  expected: LENGTH,
  elapsedMs: Math.round(elapsedMs),
  startRssMB: +(rssAtStart / MB).toFixed(1),
  baselineRssMB: +(baseline / MB).toFixed(1),
  peakRssMB: +(peak / MB).toFixed(1),
  rssGrowthMB: +((peak - baseline) / MB).toFixed(1),
  peakHeapUsedMB: +(peakHeap / MB).toFixed(1),
})}\n`);
