#!/usr/bin/env node
/**
 * The encrypting proxy under load (issue 14): batches of CONCURRENCY streamed chats at once,
 * each answer STREAM_EVENTS SSE events, through the proxy with `x-is-encrypted: true`, through
 * the same proxy without it (a plain pass-through), and straight to the mock service.
 *
 * Three places, so that each cost is counted once: the mock service on a worker thread of this
 * process, the client (fetch) on this process's event loop, and the proxy in a child process
 * (bench/proxy-process.mjs), whose own process.cpuUsage() gives the proxy's CPU time per chat.
 * Latency is the client's: from sending the request to the end of the answer.
 *
 *   node bench/proxy.mjs [--quick]     this workload alone (npm run bench runs it too)
 *   ARK_E2EE_BENCH_PROXY_PROFILE=/tmp/prof node bench/proxy.mjs --quick   with a CPU profile
 *                                      of the proxy process (open the .cpuprofile in DevTools)
 *   ARK_E2EE_BENCH_PROXY_MODES=encrypted   only the modes named (encrypted, plain, direct), e.g.
 *                                      to profile one mode with clean shares
 */
import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

const here = path.dirname(fileURLToPath(import.meta.url));
export const CONCURRENCY = 100;
export const STREAM_EVENTS = 400;
const CHARS_PER_EVENT = 4;

/** The mock server on a worker thread: its work runs beside the client's, as on another host. */
export async function startServerThread(dist) {
  const worker = new Worker(new URL('./mock-server-worker.mjs', import.meta.url), { workerData: { testing: dist('testing/index.js') } });
  const { url, certificatePem } = await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return {
    url,
    certificatePem,
    close: () => new Promise((resolve) => {
      worker.once('exit', resolve);
      worker.postMessage('close');
    }),
  };
}

/** The proxy in its own process, in front of `upstream`; `cpuMs()` reads that process's CPU time. */
async function startProxyProcess(dist, upstream) {
  const child = fork(path.join(here, 'proxy-process.mjs'), [dist('index.js'), dist('transport/proxy.js'), upstream], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // ARK_E2EE_BENCH_PROXY_PROFILE=DIR: a V8 CPU profile of the proxy process, written to DIR.
    execArgv: process.env.ARK_E2EE_BENCH_PROXY_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.ARK_E2EE_BENCH_PROXY_PROFILE}`] : [],
  });
  const next = () => new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('error', reject);
  });
  const { url } = await next();
  return {
    url,
    cpuMs: async () => {
      const answer = next();
      child.send('cpu');
      return (await answer).cpuMs;
    },
    close: () => new Promise((resolve) => {
      child.once('exit', resolve);
      child.send('close');
    }),
  };
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
const median = (list) => {
  const sorted = [...list].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/** One streamed chat read to its end; its latency in ms. Throws on an answer that is not a whole stream. */
async function streamedChat(url, headers, body) {
  const started = performance.now();
  const response = await fetch(url, { method: 'POST', headers, body });
  if (response.status !== 200) throw new Error(`${url}: HTTP ${response.status} ${await response.text()}`);
  let last = '';
  const decoder = new TextDecoder();
  for await (const chunk of response.body) last = decoder.decode(chunk, { stream: true }) || last;
  if (!last.trimEnd().endsWith('data: [DONE]')) throw new Error(`${url}: the stream did not end with [DONE]`);
  return performance.now() - started;
}

/**
 * The measurements: per mode (`encrypted`, `plain` through the proxy, `direct` to the mock), the
 * proxy's CPU time per chat (median over batches) and every chat's latency (sorted).
 */
export async function measureProxy({ dist, quick = false, log = () => undefined }) {
  const server = await startServerThread(dist);
  const proxy = await startProxyProcess(dist, server.url);
  try {
    const body = JSON.stringify({
      model: `mock-long:${STREAM_EVENTS * CHARS_PER_EVENT}:${CHARS_PER_EVENT}`,
      stream: true,
      messages: [{ role: 'user', content: 'Hello! What can you do?' }],
    });
    const headers = { 'content-type': 'application/json', authorization: 'Bearer k' };
    const modes = {
      encrypted: { url: `${proxy.url}/chat/completions`, headers: { ...headers, 'x-is-encrypted': 'true' } },
      plain: { url: `${proxy.url}/chat/completions`, headers },
      direct: { url: `${server.url}/chat/completions`, headers },
    };
    const results = Object.fromEntries(Object.keys(modes).map((name) => [name, { cpuPerChat: [], latencies: [] }]));
    const batch = async (name, record) => {
      const { url, headers: sent } = modes[name];
      const before = await proxy.cpuMs();
      const latencies = await Promise.all(Array.from({ length: CONCURRENCY }, () => streamedChat(url, sent, body)));
      const cpu = (await proxy.cpuMs()) - before;
      if (record) {
        results[name].cpuPerChat.push(cpu / CONCURRENCY);
        results[name].latencies.push(...latencies);
      }
    };
    // ARK_E2EE_BENCH_PROXY_MODES=encrypted (comma-separated): only those modes, for a profile whose
    // shares are one mode's alone.
    const only = process.env.ARK_E2EE_BENCH_PROXY_MODES?.split(',').map((name) => name.trim()).filter(Boolean);
    const names = only?.length ? Object.keys(modes).filter((name) => only.includes(name)) : Object.keys(modes);
    // Warm-up: the certificate is fetched, the JIT has seen every path.
    for (let i = 0; i < 2; i++) for (const name of names) await batch(name, false);
    const rounds = quick ? 2 : 8;
    for (let round = 0; round < rounds; round++) {
      log(`proxy round ${round + 1}/${rounds}`);
      const order = round % 2 === 0 ? names : [...names].reverse();
      for (const name of order) await batch(name, true);
    }
    return Object.fromEntries(Object.entries(results).map(([name, { cpuPerChat, latencies }]) => {
      const sorted = latencies.sort((a, b) => a - b);
      return [name, {
        cpuMsPerChat: median(cpuPerChat),
        p50: percentile(sorted, 50),
        p99: percentile(sorted, 99),
        chats: sorted.length,
        batches: cpuPerChat.length,
      }];
    }));
  } finally {
    await proxy.close();
    await server.close();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const distDir = path.resolve(process.env.ARK_E2EE_BENCH_DIST ?? path.join(here, '..', 'dist'));
  const dist = (file) => pathToFileURL(path.join(distDir, file)).href;
  const log = (message) => process.stderr.write(`${message}\n`);
  const result = await measureProxy({ dist, quick: process.argv.includes('--quick'), log });
  const { encrypted, plain, direct } = result;
  console.log(JSON.stringify(result, null, 2));
  console.log(`CPU per chat: encrypted ${encrypted.cpuMsPerChat.toFixed(2)} ms, plain ${plain.cpuMsPerChat.toFixed(2)} ms, ` +
    `ratio ${(encrypted.cpuMsPerChat / plain.cpuMsPerChat).toFixed(2)}x`);
  for (const p of ['p50', 'p99']) {
    console.log(`${p} added latency vs direct: encrypted ${(encrypted[p] - direct[p]).toFixed(1)} ms, plain ${(plain[p] - direct[p]).toFixed(1)} ms`);
  }
}
