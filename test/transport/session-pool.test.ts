/**
 * SessionPool: handshakes made ahead of time. Each session goes to one request only, the pool
 * stays bounded, a replaced certificate's sessions are dropped, and 0 turns it off. Refills run
 * on a scheduler the tests drive by hand, so nothing here waits on a clock.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// resolveBackend('node') needs the Node entry's platform, as every Node consumer has it.
import { InvalidCertificateError, InvalidOptionError } from '../../src/errors.js';
import { parseCertificate, type ModelCertificate } from '../../src/protocol/certificate.js';
import { createSession } from '../../src/protocol/create-session.js';
import type { Session } from '../../src/protocol/session.js';
import { loadNoble } from '../../src/crypto/select.js';
import { SessionPool } from '../../src/transport/session-pool.js';
import { createEncryptedFetch } from '../../src/transport/create-encrypted-fetch.js';
import { ArkEncryptor } from '../../src/transport/encryptor.js';
import { startMockArkServer, type MockArkServer } from '../../src/testing/index.js';
import { makeCertificate, type MadeCertificate } from '../helpers/make-certificate.js';
import { deriveSession, serverDecrypt } from '../helpers/server-crypto.js';

/** Lets every settled promise's callbacks run (sessions made on node:crypto settle in microtasks). */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * A scheduler that only queues: `run()` runs what is queued, lets the sessions those tasks
 * started be made, and goes on with what that queued, until nothing is left; it gives how many
 * tasks ran.
 */
function manualScheduler(): { schedule: (task: () => void) => void; run: () => Promise<number>; pending: () => number } {
  const queue: (() => void)[] = [];
  return {
    schedule: (task) => queue.push(task),
    run: async () => {
      let ran = 0;
      do {
        while (queue.length > 0) {
          queue.shift()!();
          ran++;
        }
        await settle();
      } while (queue.length > 0);
      return ran;
    },
    pending: () => queue.length,
  };
}

const made: MadeCertificate[] = [makeCertificate(), makeCertificate()];
const certA: ModelCertificate = parseCertificate(made[0]!.pem);
const certB: ModelCertificate = parseCertificate(made[1]!.pem);
const noHttp = async (): Promise<never> => {
  throw new Error('no certificate fetch in these tests');
};

describe('SessionPool', () => {
  it('hands each session out once: 1 000 takes, 1 000 different tokens and keys', async () => {
    const scheduler = manualScheduler();
    const pool = new SessionPool({ size: 4, schedule: scheduler.schedule });
    const tokens = new Set<string>();
    const keys = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      // Sometimes the refills run between two requests, sometimes not (a burst).
      if (i % 3 !== 0) await scheduler.run();
      const session = await pool.take(certA);
      tokens.add(session.token);
      keys.add(Buffer.from(session.key).toString('hex'));
    }
    expect(tokens.size).toBe(1000);
    expect(keys.size).toBe(1000);
  });

  it('gives sessions the service can open: the handshake is the usual one', async () => {
    const scheduler = manualScheduler();
    const pool = new SessionPool({ size: 2, schedule: scheduler.schedule });
    await pool.take(certA);
    await scheduler.run();
    expect(pool.readyCount(certA)).toBe(2);
    const session = await pool.take(certA); // a pooled one
    const service = deriveSession(made[0]!.privateKey, session.token);
    expect(Buffer.from(service.key)).toEqual(Buffer.from(session.key));
    expect(Buffer.from(service.nonce)).toEqual(Buffer.from(session.nonce));
    expect(serverDecrypt(service.key, service.nonce, session.encryptText('你好'))).toBe('你好');
    expect(session.encryptInfo).toEqual({ ExpireTime: Math.floor(certA.notAfter.getTime() / 1000) });
  });

  it('makes its sessions off the request path: take schedules, never fills at once', async () => {
    const scheduler = manualScheduler();
    const pool = new SessionPool({ size: 4, schedule: scheduler.schedule });
    await pool.take(certA);
    expect(pool.readyCount(certA)).toBe(0);
    // One session per scheduled task: each task is short and queues the next.
    expect(scheduler.pending()).toBe(1);
    expect(await scheduler.run()).toBe(4);
    expect(pool.readyCount(certA)).toBe(4);
  });

  it('stays bounded: never more than `size` per certificate, nor more than `maxCertificates` certificates', async () => {
    const scheduler = manualScheduler();
    const pool = new SessionPool({ size: 3, maxCertificates: 1, schedule: scheduler.schedule });
    for (let i = 0; i < 20; i++) {
      await pool.take(certA);
      await scheduler.run();
      expect(pool.readyCount(certA)).toBe(3);
    }
    // A second certificate pushes the first one out, sessions and all.
    await pool.take(certB);
    expect(pool.certificateCount).toBe(1);
    expect(pool.readyCount(certA)).toBe(0);
    await scheduler.run();
    expect(pool.readyCount(certB)).toBe(3);
    expect(pool.readyCount(certA)).toBe(0);
  });

  it('drops a certificate’s sessions, including refills already scheduled for it', async () => {
    const scheduler = manualScheduler();
    const pool = new SessionPool({ size: 4, schedule: scheduler.schedule });
    await pool.take(certA);
    await scheduler.run();
    await pool.take(certA); // schedules a refill
    pool.drop(certA);
    expect(pool.readyCount(certA)).toBe(0);
    await scheduler.run();
    expect(pool.readyCount(certA)).toBe(0);
    expect(pool.certificateCount).toBe(0);

    await pool.take(certB);
    await scheduler.run();
    pool.clear();
    await scheduler.run();
    expect(pool.readyCount(certB)).toBe(0);
  });

  it('keys sessions by the certificate itself: the same PEM parsed again shares them', async () => {
    const scheduler = manualScheduler();
    const pool = new SessionPool({ size: 2, schedule: scheduler.schedule });
    await pool.take(certA);
    await scheduler.run();
    expect(pool.readyCount(parseCertificate(made[0]!.pem))).toBe(2);
    expect(pool.readyCount(certB)).toBe(0);
  });

  it('is off with size 0: nothing scheduled, nothing kept, every session fresh', async () => {
    const scheduler = manualScheduler();
    const pool = new SessionPool({ size: 0, schedule: scheduler.schedule });
    const tokens = new Set<string>();
    for (let i = 0; i < 50; i++) tokens.add((await pool.take(certA)).token);
    expect(tokens.size).toBe(50);
    expect(scheduler.pending()).toBe(0);
    expect(pool.readyCount(certA)).toBe(0);
    expect(pool.certificateCount).toBe(0);
  });

  it('refuses what createSession refuses, and pools nothing for it', async () => {
    const scheduler = manualScheduler();
    const pool = new SessionPool({ size: 4, aicc: true, schedule: scheduler.schedule });
    await expect(pool.take(certA)).rejects.toThrow(InvalidCertificateError);
    expect(scheduler.pending()).toBe(0);
    expect(pool.certificateCount).toBe(0);
  });

  it('rejects a size that is not a whole number ≥ 0', async () => {
    for (const size of [-1, 1.5, Number.NaN]) expect(() => new SessionPool({ size })).toThrow(InvalidOptionError);
  });
});

/** A `create` whose sessions are made only when the test calls `release()` (a slow handshake). */
function deferredCreate(): {
  create: (certificate: ModelCertificate) => Promise<Session>;
  started: () => number;
  release: () => void;
} {
  const waiting: (() => void)[] = [];
  let started = 0;
  return {
    create: (certificate) => {
      started++;
      return new Promise((resolve) => waiting.push(() => resolve(createSession(certificate))));
    },
    started: () => started,
    release: () => {
      for (const go of waiting.splice(0)) go();
    },
  };
}

describe('SessionPool with sessions made asynchronously', () => {
  it('two requests at once each get their own session, and a refill still being made is nobody’s', async () => {
    const scheduler = manualScheduler();
    const slow = deferredCreate();
    const pool = new SessionPool({ size: 2, schedule: scheduler.schedule, create: slow.create });
    const first = pool.take(certA);
    const second = pool.take(certA);
    // Nothing ready: both requests make theirs on their path; no refill has started.
    expect(slow.started()).toBe(2);
    slow.release();
    const [a, b] = await Promise.all([first, second]);
    expect(a.token).not.toBe(b.token);
    expect(scheduler.pending()).toBe(1); // one refill for the certificate, not one per request

    // The refill starts in its task and is not finished: a request now makes its own session.
    expect(await scheduler.run()).toBe(1);
    expect(slow.started()).toBe(3);
    expect(pool.readyCount(certA)).toBe(0);
    const third = pool.take(certA);
    expect(slow.started()).toBe(4);
    slow.release();
    const c = await third;
    await settle();
    expect(pool.readyCount(certA)).toBe(1); // the refill's session, which no request got
    const d = await pool.take(certA);
    expect(slow.started()).toBe(4); // taken from the pool, not made
    expect(new Set([a, b, c, d].map((session) => session.token)).size).toBe(4);
  });

  it('a refill still being made when its certificate is dropped adds nothing', async () => {
    const scheduler = manualScheduler();
    const slow = deferredCreate();
    const pool = new SessionPool({ size: 2, schedule: scheduler.schedule, create: slow.create });
    const first = pool.take(certA);
    slow.release();
    await first;
    await scheduler.run(); // the refill starts, and waits
    expect(slow.started()).toBe(2);
    pool.drop(certA);
    slow.release();
    await scheduler.run();
    expect(pool.readyCount(certA)).toBe(0);
    expect(pool.certificateCount).toBe(0);
    expect(slow.started()).toBe(2);
  });

  it('a refill that fails stops the refills until the next request', async () => {
    const scheduler = manualScheduler();
    let calls = 0;
    const create = async (certificate: ModelCertificate): Promise<Session> => {
      if (++calls === 2) throw new InvalidCertificateError('refused once');
      return createSession(certificate);
    };
    const pool = new SessionPool({ size: 2, schedule: scheduler.schedule, create });
    await pool.take(certA);
    expect(await scheduler.run()).toBe(1); // the failed refill queues nothing more
    expect(pool.readyCount(certA)).toBe(0);
    await pool.take(certA); // made on its path, and the refills start again
    await scheduler.run();
    expect(pool.readyCount(certA)).toBe(2);
  });
});

describe('which certificate each user has (use): bounded, and a replaced one dropped', () => {
  const made3 = makeCertificate();
  const certC = parseCertificate(made3.pem);

  async function filled(maxUsers: number) {
    const scheduler = manualScheduler();
    const pool = new SessionPool({ size: 2, maxUsers, schedule: scheduler.schedule });
    for (const cert of [certA, certB]) await pool.take(cert);
    await scheduler.run();
    return { pool, scheduler };
  }

  it('remembers at most maxUsers users, the least recently seen forgotten first', async () => {
    const { pool } = await filled(3);
    for (let i = 0; i < 1000; i++) pool.use(`user-${i}`, i % 2 ? certA : certB);
    expect(pool.userCount).toBe(3);
    // Forgetting users for room drops nobody's sessions.
    expect(pool.readyCount(certA)).toBe(2);
    expect(pool.readyCount(certB)).toBe(2);
  });

  it('a user moving to another certificate drops the old one, unless another user still has it', async () => {
    const { pool } = await filled(10);
    pool.use('u1', certA);
    pool.use('u2', certA);
    pool.use('u1', certB);
    expect(pool.readyCount(certA)).toBe(2);
    pool.use('u2', certC);
    expect(pool.readyCount(certA)).toBe(0);
    expect(pool.readyCount(certB)).toBe(2);
    // The same PEM parsed again is the same certificate: nothing is dropped.
    pool.use('u1', parseCertificate(made[1]!.pem));
    expect(pool.readyCount(certB)).toBe(2);
  });

  it('a user forgotten for room does not count as still having its certificate', async () => {
    const { pool } = await filled(2);
    pool.use('old', certA);
    pool.use('u1', certA);
    pool.use('u2', certB); // "old" forgotten
    expect(pool.userCount).toBe(2);
    pool.use('u1', certB);
    expect(pool.readyCount(certA)).toBe(0);
  });

  it('the same user seen twice with one certificate still counts once (moving it later drops the old one)', async () => {
    const { pool } = await filled(10);
    pool.use('u1', certA);
    pool.use('u1', certA);
    pool.use('u1', certB);
    expect(pool.readyCount(certA)).toBe(0);
    expect(pool.readyCount(certB)).toBe(2);
  });

  it('a user forgotten for room keeps the sessions of its certificate, even when nobody else has it', async () => {
    const { pool } = await filled(1);
    pool.use('u1', certA);
    pool.use('u2', certB); // u1 forgotten, and with it the only user of certA
    expect(pool.userCount).toBe(1);
    expect(pool.readyCount(certA)).toBe(2);
  });

  it('a user moving away from a certificate that has no sessions yet is fine', () => {
    const pool = new SessionPool({ size: 2, schedule: () => undefined });
    pool.use('u1', certA);
    expect(() => pool.use('u1', certB)).not.toThrow();
    expect(pool.certificateCount).toBe(0);
  });

  it('makes a noble session with the noble loader it was given', async () => {
    const pool = new SessionPool({ size: 0, backend: 'noble', loadNoble });
    const session = await pool.take(certA);
    expect(session.backend.name).toBe('noble');
    const bare = new SessionPool({ size: 0, backend: 'noble' });
    await expect(bare.take(certA)).rejects.toThrow('internal error: this session pool was made without a way to load noble; nothing was sent');
  });

  it('says what is wrong with a bad size or maxUsers', () => {
    expect(() => new SessionPool({ size: -1 })).toThrow('sessionPool must be a whole number ≥ 0, got -1');
    expect(() => new SessionPool({ maxUsers: 0 })).toThrow(/maxUsers/);
  });

  it('rejects a maxUsers that is not a whole number ≥ 1', async () => {
    for (const maxUsers of [0, -1, 1.5, Number.NaN]) expect(() => new SessionPool({ maxUsers })).toThrow(InvalidOptionError);
  });
});

describe('the session pool behind the fetch wrapper', () => {
  let server: MockArkServer;
  beforeAll(async () => {
    server = await startMockArkServer();
  });
  afterAll(() => server.close());

  const chat = (encryptedFetch: typeof fetch, text: string) =>
    encryptedFetch(`${server.url}/chat/completions`, {
      method: 'POST',
      headers: { 'x-is-encrypted': 'true', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mock-model', messages: [{ role: 'user', content: text }] }),
    }).then((response) => response.json() as Promise<{ choices: { message: { content: string } }[] }>);

  it.each([4, 0])('sessionPool %i: every request its own session token, answers decrypted', async (sessionPool) => {
    const encryptedFetch = createEncryptedFetch({ errors: 'throw', cacheDir: false, sessionPool });
    const before = server.requests.length;
    for (let i = 0; i < 30; i++) {
      const answer = await chat(encryptedFetch, `hello ${i}`);
      expect(answer.choices[0]!.message.content).toBe(`echo: hello ${i}`);
    }
    const chats = server.requests.slice(before).filter((r) => r.path.endsWith('/chat/completions'));
    const tokens = chats.map((r) => r.headers['x-session-token']);
    expect(tokens).toHaveLength(30);
    expect(new Set(tokens).size).toBe(30);
  });

  it('a model whose certificate changes gets sessions of the new certificate only', async () => {
    const other = await startMockArkServer();
    try {
      let pem = server.certificatePem;
      const encryptedFetch = createEncryptedFetch({ errors: 'throw', cacheDir: false, certificate: () => pem });
      for (let i = 0; i < 5; i++) await chat(encryptedFetch, 'warm');
      // Let the pool refill with sessions for the first certificate.
      for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
      // The model now has another certificate (the other server's): a pooled session of the
      // first one would not open there, and the request would fail.
      pem = other.certificatePem;
      const answer = await encryptedFetch(`${other.url}/chat/completions`, {
        method: 'POST',
        headers: { 'x-is-encrypted': 'true', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'mock-model', messages: [{ role: 'user', content: 'moved' }] }),
      });
      expect(answer.status).toBe(200);
      expect(((await answer.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBe('echo: moved');
    } finally {
      await other.close();
    }
  });

  it('drops the sessions of a replaced certificate, and keeps those of one other models still use', async () => {
    const pems: Record<string, string> = { first: made[0]!.pem, second: made[0]!.pem };
    const encryptor = new ArkEncryptor({ cacheDir: false, certificate: (model) => pems[model]! }, noHttp, loadNoble);
    const pool = (encryptor as unknown as { sessions: SessionPool }).sessions;
    const request = (model: string) =>
      encryptor.encryptRequest({
        method: 'POST',
        url: 'https://ark.example/api/v3/chat/completions',
        headers: new Headers(),
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
      });
    await request('first');
    await request('second');
    for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(pool.readyCount(certA)).toBe(4);

    // "first" moves to another certificate; "second" still has the old one: kept.
    pems.first = made[1]!.pem;
    expect((await request('first')).headers.get('x-session-token')).not.toBe('');
    expect(pool.readyCount(certA)).toBe(4);

    // Now no model has it: its sessions go, and its scheduled refills add nothing.
    pems.second = made[1]!.pem;
    await request('second');
    expect(pool.readyCount(certA)).toBe(0);
    for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(pool.readyCount(certA)).toBe(0);
    expect(pool.readyCount(certB)).toBe(4);
  });
});
