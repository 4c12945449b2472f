/**
 * The browser bundle of an app that imports only createEncryptedFetch (scripts/bundle-size.mjs,
 * esbuild from this repository): its initial chunk, what loads before the first request, stays
 * within the limit docs/performance.md states. Code loaded on first use (the trust checks, the
 * access-key path) is in chunks of its own,
 * reported by `npm run bundle-size`, not limited here.
 */
import { describe, expect, it } from 'vitest';
import { ENCRYPTED_FETCH_APP, measure } from '../scripts/bundle-size.mjs';

/**
 * 44 KB: what the narrow certificate reader, ECDH-only P-256 and the trust checks and access-key
 * path loaded on first use reach today (issue #12 §4 aims at 40 KB; see docs/performance.md for
 * what is left).
 */
const INITIAL_GZIPPED_LIMIT = 44 * 1024;

describe('browser bundle size', () => {
  it(`createEncryptedFetch's initial chunk is at most ${INITIAL_GZIPPED_LIMIT} bytes gzipped`, async () => {
    const { initial, total, chunks } = await measure(ENCRYPTED_FETCH_APP);
    expect(chunks).toBeGreaterThan(1); // the chain check is split off
    expect(total.gzipped).toBeGreaterThan(initial.gzipped);
    expect(initial.gzipped).toBeLessThanOrEqual(INITIAL_GZIPPED_LIMIT);
  }, 120_000);
});
