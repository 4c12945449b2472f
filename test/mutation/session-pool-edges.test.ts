/**
 * SessionPool's refills and its order of certificates (src/transport/session-pool.ts), as a
 * mutation run found them untested: a refill scheduled for a certificate dropped since makes no
 * session at all (not one made and thrown away), a certificate taken again becomes the most
 * recently used and its latest object is the one refills use, and a runtime without setImmediate
 * (a browser) refills through setTimeout.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseCertificate, type ModelCertificate } from '../../src/protocol/certificate.js';
import { createSession } from '../../src/protocol/create-session.js';
import type { Session } from '../../src/protocol/session.js';
import { SessionPool } from '../../src/transport/session-pool.js';
import { makeCertificate } from '../helpers/make-certificate.js';

const [certA, certB, certC] = [makeCertificate(), makeCertificate(), makeCertificate()].map((made) => parseCertificate(made.pem)) as [
  ModelCertificate,
  ModelCertificate,
  ModelCertificate,
];
const later = (ms = 0): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A pool whose refills wait for `run()`, recording the certificate object of each session made. */
function recordingPool(options: { size: number; maxCertificates?: number }) {
  const queue: (() => void)[] = [];
  const made: ModelCertificate[] = [];
  const pool = new SessionPool({
    ...options,
    schedule: (task) => queue.push(task),
    create: async (certificate): Promise<Session> => {
      made.push(certificate);
      return createSession(certificate);
    },
  });
  const run = async (): Promise<void> => {
    while (queue.length > 0) {
      queue.shift()!();
      await later();
    }
  };
  return { pool, made, run };
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('SessionPool refills', () => {
  it('a refill scheduled for a certificate dropped since makes no session', async () => {
    const { pool, made, run } = recordingPool({ size: 2 });
    await pool.take(certA);
    expect(made).toHaveLength(1); // the taken one, made on the request path
    pool.drop(certA);
    await run();
    expect(made).toHaveLength(1);
    expect(pool.readyCount(certA)).toBe(0);
  });

  it('a certificate taken again is the most recently used: the next one pushes out the other', async () => {
    const { pool, run } = recordingPool({ size: 1, maxCertificates: 2 });
    await pool.take(certA);
    await pool.take(certB);
    await run();
    await pool.take(certA); // A is now the most recently used, B the least
    await run();
    await pool.take(certC);
    await run();
    expect(pool.certificateCount).toBe(2);
    expect(pool.readyCount(certA)).toBe(1);
    expect(pool.readyCount(certB)).toBe(0);
    expect(pool.readyCount(certC)).toBe(1);
  });

  it('refills use the latest object of the certificate (the same PEM parsed again)', async () => {
    const { pool, made, run } = recordingPool({ size: 1 });
    await pool.take(certA);
    await run();
    const again = parseCertificate(certA.pem);
    await pool.take(again);
    await run();
    expect(made.at(-1)).toBe(again);
  });

  it('without setImmediate (a browser), refills run through setTimeout', async () => {
    vi.stubGlobal('setImmediate', undefined);
    const pool = new SessionPool({ size: 1, create: (certificate) => Promise.resolve(createSession(certificate)) });
    await pool.take(certA);
    for (let i = 0; i < 50 && pool.readyCount(certA) === 0; i++) await later(5);
    expect(pool.readyCount(certA)).toBe(1);
  });
});
