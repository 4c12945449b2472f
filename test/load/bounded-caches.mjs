/**
 * Child process of test/load/bounded-caches.test.ts, run with --expose-gc on the built library:
 * one ArkEncryptor (what createEncryptedFetch, the undici interceptor and the proxy each hold)
 * encrypts one request for each of MODELS distinct models of one gateway, its certificates
 * fetched from a stand-in service that gives one certificate for every model (as the mock and
 * many gateways do). Prints one JSON line: the heap after WARM models and after all of them
 * (each after a full collection), and the entries the bounded maps hold at the end.
 *
 * Environment: MODELS (default 100000), WARM (default 10000), CACHE_SIZE (certificateCacheSize;
 * unset: the default), STEP: `request` (encryptRequest whole) or `lookup` (default: only what
 * encryptRequest keeps per model, the certificate lookup and the session pool's record of it,
 * on the encryptor's own source and pool, without the handshake and the body's encryption).
 */
import { distModule } from './dist.mjs';

if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
const { ArkEncryptor } = await distModule('transport/encryptor.js');
const { createMockCertificate } = await distModule('testing/index.js');

const models = Number(process.env.MODELS ?? 100_000);
const warm = Number(process.env.WARM ?? 10_000);
const cacheSize = process.env.CACHE_SIZE ? Number(process.env.CACHE_SIZE) : undefined;
const wholeRequests = process.env.STEP === 'request';
const { certificatePem } = createMockCertificate();
const answer = { status: 200, text: JSON.stringify({ Certificate: certificatePem }) };
let fetches = 0;
const http = async () => {
  fetches++;
  return answer;
};

const encryptor = new ArkEncryptor({ cacheDir: false, certificateCacheSize: cacheSize, sessionPool: 0 }, http);
const headers = new Headers({ authorization: 'Bearer k', 'content-type': 'application/json', 'x-is-encrypted': 'true' });

function heapUsed() {
  globalThis.gc();
  globalThis.gc();
  return process.memoryUsage().heapUsed;
}

let warmHeap = 0;
const baseUrl = 'https://gateway.example.com/api/v3';
for (let i = 0; i < models; i++) {
  const model = `ep-${i.toString(36).padStart(12, '0')}`;
  if (wholeRequests) {
    const body = JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] });
    await encryptor.encryptRequest({ method: 'POST', url: `${baseUrl}/chat/completions`, headers, body });
  } else {
    const certificate = await encryptor.source.get({ model, aicc: false, baseUrl, authorization: 'Bearer k' });
    encryptor.sessions.use(`${baseUrl}\n${model}`, certificate);
  }
  if (i + 1 === warm) warmHeap = heapUsed();
}
const endHeap = heapUsed();
process.stdout.write(
  `${JSON.stringify({
    models,
    fetches,
    warmHeap,
    endHeap,
    certificatesInMemory: encryptor.source.memorySize,
    usersInPool: encryptor.sessions.userCount,
  })}\n`,
);
