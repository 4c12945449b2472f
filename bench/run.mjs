#!/usr/bin/env node
/**
 * npm run bench: what encryption costs, workload by workload, beside the raw cost of the
 * `node:crypto` primitives it cannot avoid, measured in the same run (issue 5).
 *
 *   npm run bench                 the table (progress on stderr)
 *   npm run bench -- --json       JSON on stdout instead
 *   npm run bench -- --quick      short time budgets: a smoke run, noisier numbers
 *   npm run bench -- --cpu        process CPU time as the clock instead of wall time (steadier
 *                                 on a shared machine); the loopback row stays on wall time
 *   ARK_E2EE_BENCH_DIST=/other/dist npm run bench   measure another build (e.g. an older one)
 *
 * The proxy rows come from bench/proxy.mjs (the proxy in a child process, its own CPU time).
 *
 * Runs on the built `dist/` (`npm install` builds it; after changing src/, `npm run build`).
 * tinybench for every timing: a warm-up, then samples; each workload and its baseline are run
 * in alternating rounds and the median (p50) of all their samples is reported, so that a change
 * in machine load during the run hits both alike.
 *
 * The raw baselines are deliberately minimal: what a hand-written client that knew everything in
 * advance (where each piece ends, which chunks carry text) would still have to pay.
 */
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createCipheriv, createDecipheriv, createECDH, hkdfSync, randomBytes } from 'node:crypto';
import { Bench } from 'tinybench';
import { CONCURRENCY, STREAM_EVENTS, measureProxy, startServerThread } from './proxy.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const distDir = path.resolve(process.env.ARK_E2EE_BENCH_DIST ?? path.join(here, '..', 'dist'));
const dist = (file) => pathToFileURL(path.join(distDir, file)).href;

const args = new Set(process.argv.slice(2));
const asJson = args.has('--json');
const quick = args.has('--quick');
const cpuClock = args.has('--cpu');
const started = performance.now();
const log = (message) => process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s] ${message}\n`);

// The library under test: the Node entry first (it installs the node:crypto backend).
const lib = await import(dist('index.js'));
const { ArkEncryptor } = await import(dist('transport/encryptor.js'));
const testing = await import(dist('testing/index.js'));
/** The session pool, where this build has one. */
const SessionPool = await import(dist('transport/session-pool.js')).then((m) => m.SessionPool, () => undefined);

/** Time budget (ms) per task per round, warm-up, and the fewest samples per round. */
const budget = (time, iterations) => (quick ? { time: time / 8, warmupTime: 20, iterations: 3 } : { time, warmupTime: time / 4, iterations });
const ROUNDS = quick ? 1 : 3;
const cpuNow = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/**
 * Median (ms) of each task's samples over ROUNDS rounds, the tasks' order alternating from
 * round to round. tinybench warms each task up before sampling it.
 */
async function medians(options, tasks, { wallClock = false } = {}) {
  const samples = tasks.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? tasks.map((_, i) => i) : tasks.map((_, i) => tasks.length - 1 - i);
    const bench = new Bench({ ...options, throws: true, retainSamples: true, ...(cpuClock && !wallClock ? { now: cpuNow } : {}) });
    for (const i of order) bench.add(tasks[i][0], tasks[i][1]);
    await bench.run();
    order.forEach((i, position) => {
      const result = bench.tasks[position].result;
      if (result.state !== 'completed') throw new Error(`${tasks[i][0]}: ${result.state}`);
      for (const sample of result.latency.samples) samples[i].push(sample);
    });
  }
  return samples.map((list) => {
    list.sort((a, b) => a - b);
    const middle = list.length >> 1;
    return { p50: list.length % 2 ? list[middle] : (list[middle - 1] + list[middle]) / 2, samples: list.length };
  });
}

const ZERO_SALT = Buffer.alloc(32);
const EMPTY = Buffer.alloc(0);
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The handshake with nothing around it: one ECDH with a fresh key, one HKDF (protocol §2). */
function rawHandshake(peer) {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return hkdfSync('sha256', ecdh.computeSecret(peer), ZERO_SALT, EMPTY, 44);
}

/** AES-256-GCM of the bytes, then base64 of ciphertext and tag. */
function rawSealBase64(key, nonce, bytes) {
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  const head = cipher.update(bytes);
  cipher.final();
  return head.toString('base64') + cipher.getAuthTag().toString('base64');
}

/** One ciphertext, its end known: base64 decode, AES-256-GCM open, UTF-8 decode. */
function rawOpen(key, nonce, base64) {
  const sealed = Buffer.from(base64, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  const plain = decipher.update(sealed.subarray(0, sealed.length - 16));
  decipher.final();
  return utf8.decode(plain);
}

/** A chat request carrying one base64 JPEG-like image of `bytes` bytes. */
function imageRequest(bytes) {
  const url = `data:image/jpeg;base64,${randomBytes(bytes).toString('base64')}`;
  const body = {
    model: 'mock-model',
    messages: [{ role: 'user', content: [{ type: 'text', text: 'What is in this picture?' }, { type: 'image_url', image_url: { url } }] }],
  };
  return { url, body };
}

function completionJson(content) {
  return JSON.stringify({
    id: '021mock00000001', object: 'chat.completion', created: 1_700_000_000, model: 'mock-model', service_tier: 'default',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop', logprobs: null }],
    usage: { prompt_tokens: 10, completion_tokens: 2000, total_tokens: 2010 },
  });
}

/** `count` plaintext pieces: the mock's 1–4 character mix (ASCII and CJK, padded or not). */
function mixedPieces(count) {
  let pieces = [];
  for (let length = count * 4; pieces.length < count; length *= 2) pieces = testing.mockPieces(testing.mockLongText(length));
  return pieces.slice(0, count);
}

/** `count` ASCII pieces of 2, 5 or 8 bytes: every ciphertext unpadded, one run of `count`. */
function unpaddedPieces(count) {
  const text = testing.mockLongText(8 * count).replace(/[^\x20-\x7e]/g, '.');
  const sizes = [2, 5, 8];
  return Array.from({ length: count }, (_, i) => text.slice(i * 8, i * 8 + sizes[i % 3]));
}

function piecesWorkload(session, plain) {
  const sealed = plain.map((text) => testing.serverEncrypt(session.key, session.nonce, text));
  const json = completionJson(sealed.join(''));
  return {
    json,
    raw() {
      // Knows where every piece ends, so it only opens them.
      const body = JSON.parse(json);
      body.choices[0].message.content = sealed.map((piece) => rawOpen(session.key, session.nonce, piece)).join('');
      return JSON.stringify(body);
    },
  };
}

/** `count` chunks of `chunkChars` characters each, as the service streams them. */
function streamWorkload(session, count, chunkChars) {
  const text = testing.mockLongText(count * chunkChars);
  const events = [];
  for (let i = 0; i < count; i++) {
    const delta = { content: testing.serverEncrypt(session.key, session.nonce, text.slice(i * chunkChars, (i + 1) * chunkChars)) };
    if (i === 0) delta.role = 'assistant';
    events.push(JSON.stringify({
      id: '021mock00000001', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'mock-model',
      service_tier: 'default', choices: [{ index: 0, delta, finish_reason: null, logprobs: null }],
    }));
  }
  const encoder = new TextEncoder();
  // One network read per event: the worst case, every chunk pays the per-read overhead.
  const reads = [...events.map((data) => encoder.encode(`data: ${data}\n\n`)), encoder.encode('data: [DONE]\n\n')];
  return {
    async ours() {
      const source = new ReadableStream({
        start(controller) {
          for (const bytes of reads) controller.enqueue(bytes);
          controller.close();
        },
      });
      // A session of its own, as each answer has: nothing carried over from the last run.
      const reader = lib.decryptEventStream(source, lib.sessionFromKey(session.key, session.nonce)).getReader();
      while (!(await reader.read()).done);
    },
    raw() {
      for (const data of events) {
        const chunk = JSON.parse(data);
        const delta = chunk.choices[0].delta;
        delta.content = rawOpen(session.key, session.nonce, delta.content);
        JSON.stringify(chunk);
      }
    },
  };
}

function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism?.() ?? cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    openssl: process.versions.openssl,
    loadAverage: os.loadavg().map((load) => Number(load.toFixed(2))),
    clock: cpuClock ? 'process CPU time (loopback: wall time)' : 'wall time',
    rounds: ROUNDS,
    dist: path.relative(process.cwd(), distDir) || '.',
    date: new Date().toISOString(),
  };
}

/** Warns when src/ has changed since dist/ was built: the numbers would be of older code. */
function warnIfStale() {
  const newest = (dir, ext) => {
    let latest = 0;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
      if (entry.isFile() && entry.name.endsWith(ext)) latest = Math.max(latest, fs.statSync(path.join(entry.parentPath ?? entry.path, entry.name)).mtimeMs);
    }
    return latest;
  };
  const src = path.join(here, '..', 'src');
  if (!fs.existsSync(src) || process.env.ARK_E2EE_BENCH_DIST) return;
  if (newest(src, '.ts') > newest(distDir, '.js')) log('warning: src/ is newer than dist/: run `npm run build` to measure the current code');
}

/** What the official Python SDK took on this machine (issue 5). */
const PYTHON = {
  'handshake-node': '100–145 µs',
  'request-1mb': '4.3–5.5 ms',
  'stream-2000': '≈46 ms (23 µs/chunk)',
  'pieces-2000': '22 ms',
  'pieces-20000': 'fails',
  'unpadded-2000': 'fails',
  'unpadded-20000': 'fails',
};

async function main() {
  warnIfStale();
  const rows = [];
  const row = (id, workload, ours, raw, rawLabel, target) => {
    const ratio = ours.p50 / raw.p50;
    rows.push({
      id, workload, ms: ours.p50, rawMs: raw.p50, raw: rawLabel, ratio, target,
      pass: target === undefined ? undefined : ratio <= target, samples: [ours.samples, raw.samples], python: PYTHON[id],
    });
  };
  const mock = testing.createMockCertificate();
  const certificate = lib.parseCertificate(mock.certificatePem);
  const session = lib.createSession(certificate);
  const noHttp = async () => {
    throw new Error('no certificate fetch in this workload');
  };

  log(`handshake… (dist: ${distDir})`);
  {
    const [node, raw, noble] = await medians(budget(500, 64), [
      ['createSession node', () => lib.createSession(certificate, { backend: 'node' })],
      ['raw handshake', () => rawHandshake(certificate.publicKey)],
      ['createSession noble', () => lib.createSession(certificate, { backend: 'noble' })],
    ]);
    row('handshake-node', 'handshake (createSession), node backend', node, raw, 'createECDH + computeSecret + hkdfSync', 1.2);
    row('handshake-noble', 'handshake (createSession), noble backend, warm', noble, node, 'node createSession', 10);

    // What a request pays for its session: a take from the pool, refilled between requests as
    // it would be while the previous answer is awaited. Without a pool: a handshake.
    const pool = SessionPool ? new SessionPool({ size: 4 }) : undefined;
    const take = pool ? () => pool.take(certificate) : () => lib.createSession(certificate);
    take();
    const [taken] = await medians(budget(500, 64), [
      ['session on the request path', async () => {
        const called = performance.now();
        await new Promise((resolve) => setImmediate(resolve));
        const start = performance.now();
        take();
        const end = performance.now();
        // The sample is the take alone; the time budget is charged the whole call.
        return { overriddenDuration: end - start, overriddenIterationCost: end - called };
      }],
    ]);
    row('handshake-pool', `handshake on the request path (${pool ? 'pool of 4' : 'no pool in this build'})`, taken, raw, 'createECDH + computeSecret + hkdfSync', 0.1);
  }

  log('requests with an image…');
  for (const [id, label, bytes] of [['request-1mb', '1 MB', 2 ** 20], ['request-5mb', '5 MB', 5 * 2 ** 20]]) {
    const { url, body } = imageRequest(bytes);
    const [ours, raw] = await medians(budget(600, 8), [
      [`encryptChatRequest ${label}`, () => lib.encryptChatRequest(body, session)],
      [`raw ${label}`, () => rawSealBase64(session.key, session.nonce, Buffer.from(url))],
    ]);
    row(id, `request with a ${label} base64 image (encryptChatRequest)`, ours, raw, 'AES-256-GCM + base64', 1.5);
  }
  {
    const { url, body } = imageRequest(2 ** 20);
    const text = JSON.stringify(body);
    const encryptor = new ArkEncryptor({ certificate: mock.certificatePem, cacheDir: false }, noHttp);
    const request = { method: 'POST', url: 'https://ark.example/api/v3/chat/completions', headers: new Headers({ authorization: 'Bearer k' }), body: text };
    await encryptor.encryptRequest(request);
    const [ours, raw] = await medians(budget(600, 8), [
      ['encryptRequest 1 MB', () => encryptor.encryptRequest(request)],
      ['raw 1 MB with JSON', () => {
        const parsed = JSON.parse(text);
        parsed.messages[0].content[1].image_url.url = rawSealBase64(session.key, session.nonce, Buffer.from(url));
        return JSON.stringify(parsed);
      }],
    ]);
    row('request-1mb-json', 'same, JSON text in and out, with headers (encryptRequest)', ours, raw, 'JSON.parse + AES-GCM + base64 + JSON.stringify', 1.5);
  }

  log('answer stream…');
  {
    const stream = streamWorkload(session, 2000, 3);
    const [ours, raw] = await medians(budget(600, 8), [['decryptEventStream 2000', stream.ours], ['raw 2000 chunks', stream.raw]]);
    row('stream-2000', '2 000-chunk stream (decryptEventStream)', ours, raw, 'per chunk JSON.parse + AES-GCM + JSON.stringify', 2);
  }

  log('answers in pieces…');
  {
    const encryptor = new ArkEncryptor({ certificate: mock.certificatePem, cacheDir: false }, noHttp);
    // A session of its own per answer, as in real use: nothing is carried over between runs.
    const fresh = () => lib.sessionFromKey(session.key, session.nonce);
    for (const [kind, make, label] of [['pieces', mixedPieces, ''], ['unpadded', unpaddedPieces, ', all unpadded']]) {
      const small = piecesWorkload(session, make(2000));
      const large = piecesWorkload(session, make(20000));
      const [ours2k, raw2k, ours20k] = await medians(budget(600, 5), [
        [`${kind} 2000`, () => encryptor.decryptJsonText(small.json, fresh())],
        [`raw ${kind} 2000`, small.raw],
        [`${kind} 20000`, () => encryptor.decryptJsonText(large.json, fresh())],
      ]);
      row(`${kind}-2000`, `answer of 2 000 pieces${label} (decryptJsonText)`, ours2k, raw2k, 'JSON + AES-GCM per piece, ends known', undefined);
      row(`${kind}-20000`, `answer of 20 000 pieces${label} (decryptJsonText)`, ours20k, ours2k, '2 000 pieces (ours)', 12);
    }
  }

  log('loopback round trip…');
  {
    const server = await startServerThread(dist);
    try {
      const encryptedFetch = lib.createEncryptedFetch({ cacheDir: false });
      const url = `${server.url}/chat/completions`;
      const body = JSON.stringify({ model: 'mock-model', messages: [{ role: 'user', content: 'Hello! What can you do?' }] });
      const call = (doFetch, headers) => async () => {
        const response = await doFetch(url, { method: 'POST', headers, body });
        await response.json();
      };
      const headers = { 'content-type': 'application/json', authorization: 'Bearer k' };
      const plain = call(fetch, headers);
      const encrypted = call(encryptedFetch, { ...headers, 'x-is-encrypted': 'true' });
      // The service's share: the same chat encrypted ahead of time, sent by plain fetch, so that
      // the client does nothing and the mock does all its usual work (ECDH, HKDF, AES).
      const serverCertificate = lib.parseCertificate(server.certificatePem);
      const ahead = Array.from({ length: 200 }, () => {
        const session = lib.createSession(serverCertificate);
        return {
          body: JSON.stringify(lib.encryptChatRequest(JSON.parse(body), session)),
          headers: { ...headers, 'x-is-encrypted': 'true', 'x-session-token': session.token, 'x-encrypt-info': JSON.stringify(session.encryptInfo) },
        };
      });
      let next = 0;
      const serviceOnly = async () => {
        const request = ahead[next++ % ahead.length];
        const response = await fetch(url, { method: 'POST', headers: request.headers, body: request.body });
        await response.json();
      };
      await encrypted(); // the certificate is fetched once, then warm in memory
      const [enc, pln, service] = await medians(
        budget(1500, 200),
        [['encrypted chat', encrypted], ['plain chat', plain], ['encrypted ahead, service only', serviceOnly]],
        { wallClock: true },
      );
      row('loopback', 'encrypted chat vs plain, fetch wrapper, loopback (wall)', enc, pln, 'the same chat in plain text', 1.3);
      row('loopback-service', '  of which the service: chat encrypted ahead, plain fetch', service, pln, 'the same chat in plain text', undefined);
    } finally {
      await server.close();
    }
  }

  log('proxy: concurrent streamed chats…');
  {
    // bench/proxy.mjs: the proxy in its own process, its CPU time per chat; client latency.
    const { encrypted, plain, direct } = await measureProxy({ dist, quick, log });
    const cpu = (mode) => ({ p50: mode.cpuMsPerChat, samples: mode.batches });
    const at = (mode, p) => ({ p50: mode[p], samples: mode.chats });
    const chats = `${CONCURRENCY} concurrent streamed chats of ${STREAM_EVENTS} events`;
    row('proxy-cpu', `proxy CPU per chat, encrypted vs pass-through (${chats})`, cpu(encrypted), cpu(plain), 'the same proxy, not encrypting', 1.5);
    row('proxy-p50', '  latency p50, encrypted through the proxy (wall)', at(encrypted, 'p50'), at(direct, 'p50'), 'plain, straight to the mock', undefined);
    row('proxy-p99', '  latency p99, encrypted through the proxy (wall)', at(encrypted, 'p99'), at(direct, 'p99'), 'plain, straight to the mock', undefined);
    row('proxy-plain-p50', '  latency p50, pass-through proxy (wall)', at(plain, 'p50'), at(direct, 'p50'), 'plain, straight to the mock', undefined);
    row('proxy-plain-p99', '  latency p99, pass-through proxy (wall)', at(plain, 'p99'), at(direct, 'p99'), 'plain, straight to the mock', undefined);
  }

  log('done');
  const result = { machine: machine(), unit: 'ms per operation (median)', rows };
  if (asJson) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else printTable(result);
}

function formatMs(ms) {
  if (ms < 1) return `${(ms * 1000).toFixed(ms < 0.01 ? 2 : 1)} µs`;
  if (ms < 100) return `${ms.toFixed(2)} ms`;
  return `${ms.toFixed(0)} ms`;
}

function printTable({ machine: m, rows }) {
  const header = ['workload', 'per op', 'raw per op', 'raw is', 'ratio', 'target', 'result', 'Python SDK'];
  const lines = rows.map((r) => [
    r.workload,
    formatMs(r.ms),
    formatMs(r.rawMs),
    r.raw,
    `${r.ratio.toFixed(r.ratio < 0.1 ? 3 : 2)}×`,
    r.target === undefined ? '—' : `≤ ${r.target}×`,
    r.pass === undefined ? '—' : r.pass ? 'pass' : 'MISS',
    r.python ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const format = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log(`${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}`);
  console.log(`Node ${m.node}, OpenSSL ${m.openssl}; clock: ${m.clock}; ${m.rounds} rounds; load average ${m.loadAverage.join(' ')}; ${m.date}`);
  console.log('');
  console.log(format(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const line of lines) console.log(format(line));
}

await main();
