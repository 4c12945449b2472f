#!/usr/bin/env node
/**
 * The per-event work of a streamed answer alone (issue 14): 50 streams of 400 chunks like the
 * mock's `mock-long:1600:4` (4 characters a chunk), each fed to an EventStreamDecrypter in six
 * pieces, as one session's stream. Prints CPU time per event, fastest and median of the runs.
 * Compare two builds by running it on each, alternately:
 *
 *   node bench/event-stream.mjs [DIST] [RUNS]      DIST defaults to ./dist, RUNS to 7
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.resolve(process.argv[2] ?? path.join(here, '..', 'dist'));
const runs = Number(process.argv[3] ?? 7);
const load = (file) => import(pathToFileURL(path.join(dist, file)).href);
await load('index.js'); // the Node entry: installs the node:crypto backend
// create-session.js since the webcrypto branch; session.js in builds before it (A/B of two builds).
const { sessionFromKey } = await load('protocol/create-session.js').catch(() => load('protocol/session.js'));
const { EventStreamDecrypter } = await load('protocol/event-stream.js');

const EVENTS = 400;
const STREAMS = 50;
const PIECES = 6;

function stream() {
  const session = sessionFromKey(randomBytes(32), randomBytes(12));
  let text = '';
  for (let i = 0; i < EVENTS; i++) {
    const delta = { ...(i === 0 ? { role: 'assistant' } : {}), content: session.encryptText('abcd') };
    const chunk = {
      id: 'chatcmpl-0123456789abcdefghij', object: 'chat.completion.chunk', created: 1764600000, model: 'mock-long:1600:4',
      service_tier: 'default', choices: [{ index: 0, delta, finish_reason: null, logprobs: null }],
    };
    text += `data: ${JSON.stringify(chunk)}\n\n`;
  }
  text += 'data: [DONE]\n\n';
  const step = Math.ceil(text.length / PIECES);
  const pieces = [];
  for (let i = 0; i < text.length; i += step) pieces.push(text.slice(i, i + step));
  return { key: session.key, nonce: session.nonce, pieces };
}

const streams = Array.from({ length: STREAMS }, stream);
const perEvent = [];
for (let run = 0; run < runs; run++) {
  const before = process.cpuUsage();
  for (const { key, nonce, pieces } of streams) {
    const decrypter = new EventStreamDecrypter(sessionFromKey(key, nonce));
    for (const piece of pieces) decrypter.push(piece);
    decrypter.end();
  }
  const { user, system } = process.cpuUsage(before);
  perEvent.push((user + system) / STREAMS / EVENTS);
}
perEvent.sort((a, b) => a - b);
console.log(`${dist}: ${perEvent[0].toFixed(2)} µs an event (fastest of ${runs}), median ${perEvent[runs >> 1].toFixed(2)}`);
