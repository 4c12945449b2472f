/**
 * CertificateSource with a fake CertificateHttp, an in-memory store and a hand-moved clock: the
 * order of the sources, single flight, reloading after 14 days, validity and mode, aborts.
 * (Service failures: service.test.ts; the real disk: disk-cache.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { CertificateSource, type CertificateNeed } from '../../src/certificates/source.js';
import { InvalidCertificateError } from '../../src/errors.js';
import { makeCertificate } from '../helpers/make-certificate.js';
import {
  AICC, EXPIRED, NOT_AFTER_MS, NOT_YET_VALID, PLAIN, PLAIN_2, RELOAD_MS, RING_ONLY,
  clock, fakeHttp, gate, memoryStore, okReply, untilAborted,
} from './helpers.js';

const BASE = 'https://ark.example.com/api/v3';
const need = (extra: Partial<CertificateNeed> = {}): CertificateNeed => ({
  model: 'ep-model', aicc: false, baseUrl: BASE, authorization: 'Bearer key-1', ...extra,
});

describe('the order of sources: option, memory, disk, service', () => {
  it('a certificate option given as a string is used, and nothing else is asked', async () => {
    const { http, calls } = fakeHttp(okReply(PLAIN_2));
    const { store, counts } = memoryStore({ 'ep-model': { pem: PLAIN_2, modifiedMs: Date.now() } });
    const source = new CertificateSource({ certificate: PLAIN, store, http });
    expect((await source.get(need())).pem).toBe(PLAIN);
    expect((await source.get(need({ model: 'other' }))).pem).toBe(PLAIN);
    expect(calls).toHaveLength(0);
    expect(counts).toEqual({ read: 0, write: 0 });
  });

  it('a certificate option given as a function is called with the model name', async () => {
    const asked: string[] = [];
    const { http, calls } = fakeHttp(okReply(PLAIN_2));
    const source = new CertificateSource({
      certificate: async (model) => {
        asked.push(model);
        return model === 'aicc-model' ? AICC : PLAIN;
      },
      http,
    });
    expect((await source.get(need({ model: 'm-1' }))).pem).toBe(PLAIN);
    expect((await source.get(need({ model: 'aicc-model', aicc: true }))).isAICC).toBe(true);
    expect(asked).toEqual(['m-1', 'aicc-model']);
    expect(calls).toHaveLength(0);
  });

  it('memory comes before the disk and the service', async () => {
    const { http, calls } = fakeHttp(okReply(PLAIN));
    const { store, counts } = memoryStore();
    const source = new CertificateSource({ store, http });
    const first = await source.get(need());
    const second = await source.get(need());
    expect(second).toBe(first);
    expect(calls).toHaveLength(1);
    expect(counts.read).toBe(1);
  });

  it('the disk comes before the service', async () => {
    const { http, calls } = fakeHttp(okReply(PLAIN_2));
    const { store } = memoryStore({ 'ep-model': { pem: PLAIN, modifiedMs: Date.now() } });
    const source = new CertificateSource({ store, http });
    expect((await source.get(need())).pem).toBe(PLAIN);
    expect(calls).toHaveLength(0);
  });

  it('the service is asked last, with the request\'s own Authorization, and its answer is stored', async () => {
    const { http, calls } = fakeHttp(okReply(PLAIN));
    const { store, files } = memoryStore();
    const source = new CertificateSource({ store, http });
    expect((await source.get(need({ baseUrl: `${BASE}/`, authorization: 'Bearer caller-key' }))).pem).toBe(PLAIN);
    expect(calls).toHaveLength(1);
    const call = calls[0]!;
    expect(call.url).toBe(`${BASE}/e2e/get/certificate`);
    expect(call.headers).toEqual({
      Authorization: 'Bearer caller-key',
      'Content-Type': 'application/json',
      'X-Session-Token': '/e2e/get/certificate',
    });
    expect(JSON.parse(call.body)).toEqual({ model: 'ep-model' });
    expect(files.get('ep-model')?.pem).toBe(PLAIN);
  });

  it('AICC mode asks for type AICCv0.1; no Authorization header when the request has none', async () => {
    const { http, calls } = fakeHttp(okReply(AICC));
    const source = new CertificateSource({ http });
    await source.get(need({ aicc: true, authorization: undefined }));
    expect(JSON.parse(calls[0]!.body)).toEqual({ model: 'ep-model', type: 'AICCv0.1' });
    expect(calls[0]!.headers).not.toHaveProperty('Authorization');
  });
});

describe('single flight: one fetch per model and mode', () => {
  it('100 concurrent requests for one model make one fetch and get the same certificate', async () => {
    const opened = gate();
    const { http, calls } = fakeHttp(async () => {
      await opened.promise;
      return okReply(PLAIN);
    });
    const { store, counts } = memoryStore();
    const source = new CertificateSource({ store, http });
    const waiting = Array.from({ length: 100 }, () => source.get(need()));
    await new Promise((resolve) => setTimeout(resolve, 10));
    opened.open();
    const certificates = await Promise.all(waiting);
    expect(calls).toHaveLength(1);
    expect(counts).toMatchObject({ read: 1, write: 1 });
    expect(new Set(certificates).size).toBe(1);
  });

  it('each model, and each mode of a model, has its own fetch', async () => {
    const { http, calls } = fakeHttp((request) => okReply(JSON.parse(request.body).type ? AICC : PLAIN));
    const source = new CertificateSource({ http });
    await Promise.all([
      ...Array.from({ length: 5 }, () => source.get(need({ model: 'a' }))),
      ...Array.from({ length: 5 }, () => source.get(need({ model: 'b' }))),
      ...Array.from({ length: 5 }, () => source.get(need({ model: 'a', aicc: true }))),
    ]);
    expect(calls.map((call) => call.body).sort()).toEqual([
      '{"model":"a","type":"AICCv0.1"}', '{"model":"a"}', '{"model":"b"}',
    ]);
  });

  it('a failed fetch fails every waiter once, and the next request tries again', async () => {
    const { http, calls } = fakeHttp((_request, index) => (index === 0 ? { status: 503, text: 'busy' } : okReply(PLAIN)));
    const source = new CertificateSource({ http });
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => source.get(need())));
    expect(results.every((result) => result.status === 'rejected')).toBe(true);
    expect(calls).toHaveLength(1);
    expect((await source.get(need())).pem).toBe(PLAIN);
    expect(calls).toHaveLength(2);
  });
});

describe('reloading after 14 days', () => {
  it('a certificate in memory is used for 14 days, then fetched again', async () => {
    const time = clock();
    const { http, calls } = fakeHttp(okReply(PLAIN));
    const source = new CertificateSource({ http, now: time.now });
    await source.get(need());
    time.advance(RELOAD_MS - 1);
    await source.get(need());
    expect(calls).toHaveLength(1);
    time.advance(1);
    await source.get(need());
    expect(calls).toHaveLength(2);
  });

  it('a disk file older than 14 days by the clock is fetched again and replaced', async () => {
    const time = clock();
    const { store, counts, files } = memoryStore({ 'ep-model': { pem: PLAIN, modifiedMs: time.now() - RELOAD_MS } });
    const { http, calls } = fakeHttp(okReply(PLAIN_2));
    const source = new CertificateSource({ store, http, now: time.now });
    expect((await source.get(need())).pem).toBe(PLAIN_2);
    expect(calls).toHaveLength(1);
    expect(counts.write).toBe(1);
    expect(files.get('ep-model')?.pem).toBe(PLAIN_2);
  });
});

describe('validity: an expired or not-yet-valid certificate is fetched once more, then refused', () => {
  it('a held certificate past its end is fetched exactly once more and refused if still expired', async () => {
    const time = clock(NOT_AFTER_MS - 1000);
    const { http, calls } = fakeHttp(okReply(PLAIN));
    const source = new CertificateSource({ http, now: time.now });
    await source.get(need());
    time.set(NOT_AFTER_MS + 1000);
    await expect(source.get(need())).rejects.toThrow(InvalidCertificateError);
    expect(calls).toHaveLength(2);
  });

  it('a held certificate past its end is replaced when the service has a new one', async () => {
    const time = clock(NOT_AFTER_MS - 1000);
    const renewed = makeCertificate({ notAfter: new Date(Date.UTC(2040, 0, 1)) }).pem;
    const { http, calls } = fakeHttp((_request, index) => okReply(index === 0 ? PLAIN : renewed));
    const source = new CertificateSource({ http, now: time.now });
    await source.get(need());
    time.set(NOT_AFTER_MS + 1000);
    expect((await source.get(need())).pem).toBe(renewed);
    expect(calls).toHaveLength(2);
  });

  it('a held certificate not yet valid (the clock went back) is fetched once more, then refused', async () => {
    const time = clock();
    const { http, calls } = fakeHttp(okReply(PLAIN));
    const source = new CertificateSource({ http, now: time.now });
    await source.get(need());
    time.set(Date.UTC(2024, 0, 1));
    await expect(source.get(need())).rejects.toThrow(/not valid now/);
    expect(calls).toHaveLength(2);
  });

  it.each([
    ['expired', EXPIRED],
    ['not yet valid', NOT_YET_VALID],
  ])('an %s certificate on disk is fetched once more (the file kept until a good one replaces it); the service\'s is refused too', async (_name, pem) => {
    const { store, counts, files } = memoryStore({ 'ep-model': { pem, modifiedMs: Date.now() } });
    const { http, calls } = fakeHttp(okReply(pem));
    const source = new CertificateSource({ store, http });
    const error = await source.get(need()).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidCertificateError);
    expect((error as InvalidCertificateError).code).toBe('ERR_ARK_E2EE_INVALID_CERTIFICATE');
    expect(calls).toHaveLength(1);
    expect(counts.write).toBe(0);
    expect(files.get('ep-model')?.pem).toBe(pem);
  });

  it('an expired certificate from the service is refused, neither stored nor remembered', async () => {
    const { store, files } = memoryStore();
    const { http, calls } = fakeHttp(okReply(EXPIRED));
    const source = new CertificateSource({ store, http });
    await expect(source.get(need())).rejects.toThrow(InvalidCertificateError);
    expect(files.size).toBe(0);
    await expect(source.get(need())).rejects.toThrow(InvalidCertificateError);
    expect(calls).toHaveLength(2);
  });

  it('an expired certificate option is refused without asking the service', async () => {
    const { http, calls } = fakeHttp(okReply(PLAIN));
    const source = new CertificateSource({ certificate: EXPIRED, http });
    await expect(source.get(need())).rejects.toThrow(InvalidCertificateError);
    expect(calls).toHaveLength(0);
  });
});

describe('mode: AICC needs both ids, plain needs neither', () => {
  it.each([
    ['a plain option in AICC mode', PLAIN, true],
    ['an AICC option in plain mode', AICC, false],
    ['a ring id without a key id in AICC mode', RING_ONLY, true],
    ['a ring id without a key id in plain mode', RING_ONLY, false],
  ])('%s is refused', async (_name, pem, aicc) => {
    const source = new CertificateSource({ certificate: pem, http: fakeHttp(okReply(pem)).http });
    await expect(source.get(need({ aicc }))).rejects.toThrow(InvalidCertificateError);
  });

  it.each([
    ['plain certificate cached, AICC mode', PLAIN, AICC, true],
    ['AICC certificate cached, plain mode', AICC, PLAIN, false],
  ])('%s: fetched again, and the cached file replaced', async (_name, cached, served, aicc) => {
    const { store, counts, files } = memoryStore({ 'ep-model': { pem: cached, modifiedMs: Date.now() } });
    const { http, calls } = fakeHttp(okReply(served));
    const source = new CertificateSource({ store, http });
    expect((await source.get(need({ aicc }))).pem).toBe(served);
    expect(calls).toHaveLength(1);
    expect(counts.write).toBe(1);
    expect(files.get('ep-model')?.pem).toBe(served);
  });

  it('a service certificate of the wrong mode is refused and not stored', async () => {
    const { store, files } = memoryStore();
    const source = new CertificateSource({ store, http: fakeHttp(okReply(PLAIN)).http });
    await expect(source.get(need({ aicc: true }))).rejects.toThrow(/AICC/);
    expect(files.size).toBe(0);
  });
});

describe('the request\'s AbortSignal aborts the certificate fetch', () => {
  it('an already aborted signal rejects with its reason and fetches nothing', async () => {
    const { http, calls } = fakeHttp(okReply(PLAIN));
    const source = new CertificateSource({ http });
    const reason = new Error('gave up');
    await expect(source.get(need({ signal: AbortSignal.abort(reason) }))).rejects.toBe(reason);
    expect(calls).toHaveLength(0);
  });

  it('aborting while the fetch hangs rejects promptly with the reason, and aborts the fetch', async () => {
    const { http, calls } = fakeHttp((request) => untilAborted(request.signal));
    const source = new CertificateSource({ http });
    const controller = new AbortController();
    const pending = source.get(need({ signal: controller.signal }));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(calls).toHaveLength(1);
    const reason = new Error('user cancelled');
    const started = performance.now();
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    expect(performance.now() - started).toBeLessThan(500);
    expect(calls[0]!.signal.aborted).toBe(true);
  });

  it('two waiters, one aborts: the other still gets the certificate from the same fetch', async () => {
    const opened = gate();
    const { http, calls } = fakeHttp(async () => {
      await opened.promise;
      return okReply(PLAIN);
    });
    const source = new CertificateSource({ http });
    const controller = new AbortController();
    const leaving = source.get(need({ signal: controller.signal }));
    const staying = source.get(need({ signal: new AbortController().signal }));
    await new Promise((resolve) => setTimeout(resolve, 10));
    const reason = new Error('first one left');
    controller.abort(reason);
    await expect(leaving).rejects.toBe(reason);
    expect(calls[0]!.signal.aborted).toBe(false);
    opened.open();
    expect((await staying).pem).toBe(PLAIN);
    expect(calls).toHaveLength(1);
  });

  it('when every waiter has aborted, the next request starts a fresh fetch', async () => {
    let hang = true;
    const { http, calls } = fakeHttp((request) => (hang ? untilAborted(request.signal) : okReply(PLAIN)));
    const source = new CertificateSource({ http });
    const controller = new AbortController();
    const pending = source.get(need({ signal: controller.signal }));
    await new Promise((resolve) => setTimeout(resolve, 10));
    controller.abort();
    await expect(pending).rejects.toHaveProperty('name', 'AbortError');
    hang = false;
    expect((await source.get(need())).pem).toBe(PLAIN);
    expect(calls).toHaveLength(2);
  });
});

describe('the memory cache is bounded (maxEntries, least recently used out first)', () => {
  it('holds at most maxEntries certificates; an evicted one is fetched again, a recently used one is not', async () => {
    const { http, calls } = fakeHttp(okReply(PLAIN));
    const source = new CertificateSource({ http, maxEntries: 2 });
    await source.get(need({ model: 'a' }));
    await source.get(need({ model: 'b' }));
    await source.get(need({ model: 'a' })); // a is now the most recently used
    await source.get(need({ model: 'c' })); // b goes
    expect(source.memorySize).toBe(2);
    expect(calls).toHaveLength(3);
    await source.get(need({ model: 'a' }));
    expect(calls).toHaveLength(3);
    await source.get(need({ model: 'b' }));
    expect(calls).toHaveLength(4);
    for (let i = 0; i < 500; i++) await source.get(need({ model: `m-${i}` }));
    expect(source.memorySize).toBe(2);
  });

  it('one PEM serving many models is parsed once and shared', async () => {
    const { http } = fakeHttp(okReply(PLAIN));
    const source = new CertificateSource({ http });
    const first = await source.get(need({ model: 'a' }));
    expect(await source.get(need({ model: 'b' }))).toBe(first);
  });

  it('defaults to 1000, and refuses a size that is not a whole number ≥ 1', async () => {
    const source = new CertificateSource({ http: fakeHttp(okReply(PLAIN)).http });
    for (let i = 0; i < 1001; i++) await source.get(need({ model: `m-${i}` }));
    expect(source.memorySize).toBe(1000);
    expect(() => new CertificateSource({ http: fakeHttp(okReply(PLAIN)).http, maxEntries: 0 })).toThrow(/certificateCacheSize/);
  });
});

