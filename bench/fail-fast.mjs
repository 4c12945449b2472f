#!/usr/bin/env node
/**
 * node bench/fail-fast.mjs: what an answer that does not authenticate costs, beside a genuine
 * answer of the same size (issue 10). Each row is one `decryptChatCompletion` of a non-streamed
 * answer whose content is about 1 MiB of base64 (one synchronous step, so its time is how long
 * the event loop is blocked), with a fresh session each time; the median of several runs, in
 * CPU time of the process (steadier than wall time on a shared machine).
 * Runs on dist/ (`npm run build` first), like bench/run.mjs.
 *
 *   node bench/fail-fast.mjs            the table
 *   node bench/fail-fast.mjs --mib 20   contents of 20 MiB instead
 */
import path from 'node:path';
import { createCipheriv, randomBytes } from 'node:crypto';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const distDir = path.resolve(process.env.ARK_E2EE_BENCH_DIST ?? path.join(here, '..', 'dist'));
const lib = await import(pathToFileURL(path.join(distDir, 'index.js')).href);
const { EventStreamDecrypter } = await import(pathToFileURL(path.join(distDir, 'protocol', 'event-stream.js')).href);

const mibArg = process.argv.indexOf('--mib');
const MIB = mibArg === -1 ? 1 : Number(process.argv[mibArg + 1]);
const TARGET = Math.round(MIB * 1024 * 1024); // base64 characters
const KEY = randomBytes(32);
const NONCE = randomBytes(12);

function seal(bytes) {
  const cipher = createCipheriv('aes-256-gcm', KEY, NONCE);
  return Buffer.concat([cipher.update(bytes), cipher.final(), cipher.getAuthTag()]);
}
const enc = (text) => seal(Buffer.from(text, 'utf8')).toString('base64');
/** The key stream: what XORed with a plaintext gives its ciphertext. */
const keyStream = (length) => seal(Buffer.alloc(length)).subarray(0, length);

/** Plain ASCII words of about `length` characters. */
const words = (length) => 'the quick brown fox jumps over the lazy dog '.repeat(Math.ceil(length / 44)).slice(0, length);

const cases = {
  'genuine: one ciphertext': () => enc(words((TARGET / 4) * 3 - 16)),
  'genuine: unpadded pieces of 33 bytes (17 of text)': () => {
    const piece = words(17);
    return Array.from({ length: Math.floor(TARGET / 44) }, () => enc(piece)).join('');
  },
  'garbage: random base64, no padding': () => randomBytes((TARGET / 4) * 3).toString('base64'),
  'garbage: a genuine ciphertext with one bit flipped': () => {
    const sealed = seal(Buffer.from(words((TARGET / 4) * 3 - 16)));
    sealed[sealed.length - 1] ^= 1;
    return sealed.toString('base64');
  },
  'garbage: plain text where ciphertext is due': () => words(TARGET),
  'made with the key: text that decrypts to UTF-8, no tag anywhere': () => {
    const length = (TARGET / 4) * 3;
    const plain = Buffer.from(words(length));
    const stream = keyStream(length);
    for (let i = 0; i < length; i++) plain[i] ^= stream[i];
    return plain.toString('base64');
  },
};

function once(content) {
  const session = lib.sessionFromKey(KEY, NONCE, { backend: 'node' });
  const body = { choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content } }] };
  const cpu = process.cpuUsage();
  let ok = true;
  try {
    lib.decryptChatCompletion(body, session);
  } catch {
    ok = false;
  }
  const { user, system } = process.cpuUsage(cpu);
  return { ms: (user + system) / 1000, ok };
}

/** One event of a stream whose reasoning_content is `content`, fed to the decrypter in one piece. */
function streamOnce(content) {
  const session = lib.sessionFromKey(KEY, NONCE, { backend: 'node' });
  const decrypter = new EventStreamDecrypter(session, { maxEventBytes: 64 * 1024 * 1024 });
  const event = `data: ${JSON.stringify({ choices: [{ index: 0, delta: { reasoning_content: content }, finish_reason: null }] })}\n\n`;
  const cpu = process.cpuUsage();
  let ok = true;
  try {
    decrypter.push(event);
  } catch {
    ok = false;
  }
  const { user, system } = process.cpuUsage(cpu);
  return { ms: (user + system) / 1000, ok };
}

const rows = [];
for (const [name, make] of Object.entries(cases)) {
  const content = make();
  const times = [];
  let ok;
  for (let i = 0; i < 7; i++) {
    const result = once(content);
    times.push(result.ms);
    ok = result.ok;
  }
  times.sort((a, b) => a - b);
  rows.push({ name, chars: content.length, median: times[3], max: times[6], ok });
  process.stderr.write('.');
}
for (const [name, make] of [['stream: one event, genuine reasoning_content', cases['genuine: one ciphertext']], ['stream: one event, random base64 as reasoning_content', cases['garbage: random base64, no padding']]]) {
  const content = make();
  const times = [];
  let ok;
  for (let i = 0; i < 7; i++) {
    const result = streamOnce(content);
    times.push(result.ms);
    ok = result.ok;
  }
  times.sort((a, b) => a - b);
  rows.push({ name, chars: content.length, median: times[3], max: times[6], ok });
}
process.stderr.write('\n');
const genuine = rows[0].median;
console.log(`| content (${MIB} MiB of base64) | outcome | median | slowest of 7 | ÷ one genuine ciphertext |`);
console.log('|---|---|---|---|---|');
for (const row of rows) {
  console.log(`| ${row.name} | ${row.ok ? 'decrypted' : 'refused'} | ${row.median.toFixed(1)} ms | ${row.max.toFixed(1)} ms | ${(row.median / genuine).toFixed(1)}× |`);
}
