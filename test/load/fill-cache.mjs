/**
 * Child process of test/load/cache-race.test.ts, on the built library (dist/, or ARK_E2EE_DIST): one
 * client over the cache folder CACHE_DIR. Prints `ready`, waits for a line on stdin (so that every
 * process starts at once), sends one encrypted request to the mock server at URL, prints one JSON
 * line (the answer and any warnings), and exits.
 */
import { once } from 'node:events';
import { distModule } from './dist.mjs';

const { createEncryptedFetch } = await distModule('index.js');

const warnings = [];
const encryptedFetch = createEncryptedFetch({ cacheDir: process.env.CACHE_DIR, onWarning: (message) => warnings.push(message) });
process.stdout.write('ready\n');
await once(process.stdin, 'data');
process.stdin.destroy();
const response = await encryptedFetch(`${process.env.URL}/chat/completions`, {
  method: 'POST',
  headers: { authorization: `Bearer ${process.env.API_KEY}`, 'x-is-encrypted': 'true', 'content-type': 'application/json' },
  body: JSON.stringify({ model: 'mock-model', messages: [{ role: 'user', content: `process ${process.pid}` }] }),
});
const answer = await response.json();
process.stdout.write(`${JSON.stringify({ status: response.status, content: answer.choices?.[0]?.message?.content, pid: process.pid, warnings })}\n`);
