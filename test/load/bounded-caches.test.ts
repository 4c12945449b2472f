/**
 * Issue 17, bounded caches: what an encryptor keeps per (origin, model) (its certificate in the
 * memory cache, the session pool's record of it) is bounded by `certificateCacheSize`, so that a
 * process meeting 100 000 distinct models keeps a flat heap. Measured in a child process on the
 * built library with `--expose-gc` (bounded-caches.mjs): heap after a full collection once
 * 10 000 models were seen, and again after 100 000. A control run with a bound larger than the
 * model count shows the measurement sees the growth an unbounded map would have.
 */
import { expect, it } from 'vitest';
import { runChild } from './child.js';

interface Result {
  models: number;
  fetches: number;
  warmHeap: number;
  endHeap: number;
  certificatesInMemory: number;
  usersInPool: number;
}

const MB = 1024 * 1024;
const GC = { NODE_OPTIONS: '--expose-gc' };
const growth = (result: Result): string => `${((result.endHeap - result.warmHeap) / MB).toFixed(1)} MB`;

it('100 000 distinct models: at most 1 000 entries each, and the heap stays flat', async () => {
  const { result } = await runChild<Result>('bounded-caches.mjs', { ...GC, MODELS: '100000', WARM: '10000' }, 60_000);
  console.log(`100 000 models, default bound: heap ${(result.warmHeap / MB).toFixed(1)} MB after 10 000, growth after 100 000: ${growth(result)}`);
  expect(result.fetches).toBe(100_000);
  expect(result.certificatesInMemory).toBe(1000);
  expect(result.usersInPool).toBe(1000);
  expect(result.endHeap - result.warmHeap).toBeLessThan(3 * MB);
}, 120_000);

it('control: with room for every model, the same measurement sees the heap grow', async () => {
  const { result } = await runChild<Result>('bounded-caches.mjs', { ...GC, MODELS: '40000', WARM: '10000', CACHE_SIZE: '1000000' }, 60_000);
  console.log(`40 000 models, no effective bound: growth after 10 000: ${growth(result)}`);
  expect(result.certificatesInMemory).toBe(40_000);
  expect(result.usersInPool).toBe(40_000);
  expect(result.endHeap - result.warmHeap).toBeGreaterThan(6 * MB);
}, 120_000);

it('whole encrypted requests (handshake and body too), certificateCacheSize 100: 100 entries, flat heap', async () => {
  const { result } = await runChild<Result>(
    'bounded-caches.mjs',
    { ...GC, MODELS: '10000', WARM: '2000', CACHE_SIZE: '100', STEP: 'request' },
    60_000,
  );
  console.log(`10 000 encrypted requests to distinct models, bound 100: growth after 2 000: ${growth(result)}`);
  expect(result.certificatesInMemory).toBe(100);
  expect(result.usersInPool).toBe(100);
  expect(result.endHeap - result.warmHeap).toBeLessThan(3 * MB);
}, 120_000);
