/**
 * The browser bundle of an app that imports only createEncryptedFetch (scripts/bundle-size.mjs,
 * esbuild from this repository): its initial chunk, what loads before the first request, stays
 * within the limits docs/performance.md states. Code loaded on first use (noble's P-256, the
 * trust checks, the access-key path) is in chunks of its own, reported by `npm run bundle-size`,
 * not limited here.
 */
import { describe, expect, it } from 'vitest';
import { ENCRYPTED_FETCH_APP, MAIN_ENTRY_FETCH_APP, measure } from '../scripts/bundle-size.mjs';

/** 40 KB from `ark-e2ee/fetch` (issue #12 §4): the handshake on WebCrypto, no curve code up front. */
const INITIAL_GZIPPED_LIMIT = 40 * 1024;

/**
 * 45.5 KB from the main entry (`ark-e2ee`): its synchronous API keeps noble's P-256 in the initial
 * chunk (src/fetch.ts says why), and its createEncryptedFetch takes noble from there. 45 540 bytes
 * when this limit was set: main's 44 762 and the WebCrypto handshake's code (docs/performance.md).
 */
const MAIN_ENTRY_GZIPPED_LIMIT = 45.5 * 1024;

describe('browser bundle size', () => {
  it(`createEncryptedFetch's initial chunk from ark-e2ee/fetch is at most ${INITIAL_GZIPPED_LIMIT} bytes gzipped, without the curve code`, async () => {
    const { initial, total, chunks, inputs } = await measure(ENCRYPTED_FETCH_APP);
    expect(chunks).toBeGreaterThan(1); // the chain check, the access-key path and noble's P-256 are split off
    expect(total.gzipped).toBeGreaterThan(initial.gzipped);
    expect(initial.gzipped).toBeLessThanOrEqual(INITIAL_GZIPPED_LIMIT);
    const paths = inputs.map((input) => input.path);
    expect(paths.filter((path) => /@noble\/(curves|hashes)|src\/crypto\/noble\.ts|src\/credentials\/sign\.ts/.test(path))).toEqual([]);
    expect(paths).toContain('src/crypto/webcrypto-agree.ts');
  }, 120_000);

  it(`and from the main entry, at most ${MAIN_ENTRY_GZIPPED_LIMIT} bytes gzipped`, async () => {
    const { initial } = await measure(MAIN_ENTRY_FETCH_APP);
    expect(initial.gzipped).toBeLessThanOrEqual(MAIN_ENTRY_GZIPPED_LIMIT);
  }, 120_000);
});
