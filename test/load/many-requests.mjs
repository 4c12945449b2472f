/**
 * Child process of many-requests.test.ts, on the built library (dist/, or ARK_E2EE_DIST): a mock
 * Ark server and REQUESTS concurrent encrypted requests (half streamed) through
 * createEncryptedFetch over the global fetch, then the server closed and the process's active
 * resources listed. Prints one JSON line, and exits on its own.
 */
import { distModule } from './dist.mjs';

const { createEncryptedFetch } = await distModule('index.js');
const { mockAnswerText, startMockArkServer } = await distModule('testing/index.js');

const REQUESTS = Number(process.env.REQUESTS ?? 1000);
const API_KEY = 'load-test-key';

const server = await startMockArkServer({ apiKey: API_KEY });
const encryptedFetch = createEncryptedFetch({ cacheDir: false });

/** Request i: streamed or not, with a text of its own. One model, so one certificate. */
function plan(i) {
  const text = `question ${i}: 常见的十字花科植物有哪些? ${'x'.repeat(i % 17)}`;
  const kind = i % 2 === 0 ? 'json' : 'stream';
  const messages = [{ role: 'user', content: text }];
  return { text, kind, model: 'mock-model', messages, expected: mockAnswerText(messages) };
}

async function contentOfStream(response) {
  const text = await response.text();
  let content = '';
  for (const event of text.split('\n\n')) {
    const data = event.replace(/^data: /, '');
    if (data === '' || data === '[DONE]') continue;
    const chunk = JSON.parse(data);
    content += chunk.choices?.[0]?.delta?.content ?? '';
  }
  return content;
}

async function one(i) {
  const { text, kind, model, messages, expected } = plan(i);
  const response = await encryptedFetch(`${server.url}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'x-is-encrypted': 'true', 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages, stream: kind === 'stream' }),
  });
  if (response.status !== 200) return { i, ok: false, why: `HTTP ${response.status}` };
  const content = kind === 'stream' ? await contentOfStream(response) : (await response.json()).choices[0].message.content;
  return { i, ok: content === expected, why: content === expected ? '' : `got ${JSON.stringify(content)}`, text };
}

const started = performance.now();
const results = await Promise.all(Array.from({ length: REQUESTS }, (_unused, i) => one(i).catch((error) => ({ i, ok: false, why: String(error) }))));
const elapsedMs = performance.now() - started;

const chats = server.requests.filter((request) => request.path.endsWith('/chat/completions'));
const tokens = new Set(chats.map((request) => request.headers['x-session-token']));
const plaintextOnWire = chats.filter((request) => request.body.includes('十字花科') || request.body.includes('question')).length;
const summary = {
  requests: REQUESTS,
  correct: results.filter((result) => result.ok).length,
  failures: results.filter((result) => !result.ok).slice(0, 5),
  elapsedMs: Math.round(elapsedMs),
  certificateRequests: server.stats.certificateRequests,
  chatRequests: chats.length,
  encryptedRequests: server.stats.encryptedRequests,
  distinctTokens: tokens.size,
  plaintextOnWire,
};

await server.close();
// The client's sockets see the server close them; give their close events a turn to run.
for (let turn = 0; turn < 20 && process.getActiveResourcesInfo().some((name) => name === 'TCPSocketWrap'); turn++) {
  await new Promise((resolve) => setTimeout(resolve, 25));
}
summary.activeResources = process.getActiveResourcesInfo();
process.stdout.write(`${JSON.stringify(summary)}\n`);
