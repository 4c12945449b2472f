/**
 * src/certificates/source.ts at its edges (issue 16): validity and trust to the millisecond,
 * the mode of a certificate, `from` as `ark-e2ee cert` reports it, the store a base URL uses,
 * the messages, and the bookkeeping of shared fetches when waiters leave or a fetch is left
 * behind by a newer one. Every fetch is a fake CertificateHttp held on promises the test
 * releases, so the order of events is fixed; the trust checks are the real ones over a PKI made
 * here.
 */
import { KeyUsageFlags } from '@peculiar/asn1-x509';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CertificateHttpRequest } from '../../src/certificates/service.js';
import { CertificateSource, parseModelCertificate, type CertificateNeed } from '../../src/certificates/source.js';
import { CertificateTrust } from '../../src/certificates/trust.js';
import { CertificateUnavailableError, InvalidCertificateError } from '../../src/errors.js';
import { makeCertificate } from '../helpers/make-certificate.js';
import { AICC, EXPIRED, PLAIN, RING_ONLY, clock, fakeHttp, gate, memoryStore, okReply, untilAborted, type Reply } from '../certificates/helpers.js';

const BASE = 'https://ark.example.com/api/v3';
const need = (extra: Partial<CertificateNeed> = {}): CertificateNeed => ({
  model: 'ep-model', aicc: false, baseUrl: BASE, authorization: 'Bearer key-1', ...extra,
});

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(Error);
  return error as Error & { code?: string };
}

/** Every promise reaction queued so far has run (a macrotask comes after them all). */
const settled = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** An http whose n-th call answers when the test releases it (with what it is given). */
function heldHttp() {
  const calls: { request: CertificateHttpRequest; abortedAtCall: boolean }[] = [];
  const arrived: ReturnType<typeof gate>[] = [gate(), gate(), gate()];
  const answers: ((reply: Reply) => void)[] = [];
  const http = (request: CertificateHttpRequest): Promise<Reply> =>
    new Promise((resolve) => {
      calls.push({ request, abortedAtCall: request.signal.aborted });
      answers.push(resolve);
      arrived[calls.length - 1]?.open();
    });
  return { http, calls, arrived, answer: (index: number, reply: Reply) => answers[index]!(reply) };
}

describe('validity and trust, to the millisecond', () => {
  it('a certificate is valid from its first to its last millisecond, both included', async () => {
    const { notBefore, notAfter } = parseModelCertificate(PLAIN);
    const time = clock();
    const source = new CertificateSource({ certificate: PLAIN, http: fakeHttp(okReply(PLAIN)).http, now: time.now });
    for (const at of [notBefore.getTime(), notAfter.getTime()]) {
      time.set(at);
      expect((await source.get(need())).pem).toBe(PLAIN);
    }
    for (const at of [notBefore.getTime() - 1, notAfter.getTime() + 1]) {
      time.set(at);
      await expect(source.get(need())).rejects.toThrow(/is not valid now/);
    }
  });

  it('a trusted certificate is used from memory up to the last millisecond its chain is valid', async () => {
    const CA_USAGE = KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign;
    const rootEnd = Date.UTC(2030, 0, 1);
    const root = makeCertificate({ commonName: 'Edge Root CA', ca: true, keyUsage: CA_USAGE, notAfter: new Date(rootEnd) });
    const leaf = makeCertificate({ commonName: 'ep-model', issuer: root, keyUsage: KeyUsageFlags.keyAgreement | KeyUsageFlags.digitalSignature });
    const trust = CertificateTrust.from({ trustAnchors: root.pem });
    const time = clock(rootEnd - 24 * 60 * 60 * 1000);
    const { http, calls } = fakeHttp(okReply(leaf.pem));
    const source = new CertificateSource({ http, trust, now: time.now });
    await source.get(need());
    time.set(rootEnd);
    expect(await source.lookup(need())).toMatchObject({ from: { kind: 'memory' } });
    expect(calls).toHaveLength(1);
    // One millisecond later the chain is out of date: checked again, and refused.
    time.set(rootEnd + 1);
    await expect(source.get(need())).rejects.toThrow(/is not trusted/);
    expect(calls).toHaveLength(2);
  });
});

describe('the mode, and the messages of a refused certificate', () => {
  it('a ring id without a key id is not a plain certificate', async () => {
    const source = new CertificateSource({ certificate: RING_ONLY, http: fakeHttp(okReply(PLAIN)).http });
    const error = await rejection(source.get(need()));
    expect(error).toBeInstanceOf(InvalidCertificateError);
    expect(error.message).toBe('the certificate option for model "ep-model" is an AICC certificate, but AICC mode is off');
  });

  it('a certificate out of its validity: both dates, and what to do', async () => {
    const source = new CertificateSource({ certificate: EXPIRED, http: fakeHttp(okReply(PLAIN)).http });
    expect((await rejection(source.get(need()))).message).toBe(
      'the certificate option for model "ep-model" is not valid now (valid from 2020-01-01T00:00:00.000Z to ' +
        '2021-01-01T00:00:00.000Z); check the clock, or clear the certificate cache',
    );
  });

  it("the service's certificate of the other mode is named as the service's", async () => {
    const source = new CertificateSource({ http: fakeHttp(okReply(AICC)).http });
    expect((await rejection(source.get(need()))).message).toBe(
      'the certificate the service gave for model "ep-model" is an AICC certificate, but AICC mode is off',
    );
  });

  it('a PEM that is not a string is an InvalidCertificateError, not a TypeError', () => {
    expect(() => parseModelCertificate(42 as unknown as string)).toThrow(InvalidCertificateError);
  });

  it('one whole block followed by a cut one is refused, not read as its first block', () => {
    const cut = `${PLAIN}-----BEGIN CERTIFICATE-----\nMIIB\n`;
    expect(() => parseModelCertificate(cut)).toThrow(/holds more than one 'CERTIFICATE' block/);
  });
});

describe('where it came from', () => {
  it('the option, memory, the service (with the file it was stored in), then the cache', async () => {
    const withOption = new CertificateSource({ certificate: PLAIN, http: fakeHttp(okReply(PLAIN)).http });
    expect((await withOption.lookup(need())).from).toEqual({ kind: 'option', label: 'the certificate option' });
    const { store } = memoryStore();
    const source = new CertificateSource({ store, http: fakeHttp(okReply(PLAIN)).http });
    expect((await source.lookup(need())).from).toEqual({ kind: 'service', url: `${BASE}/e2e/get/certificate`, file: '/memory/ep-model.pem' });
    expect((await source.lookup(need())).from).toEqual({ kind: 'memory' });
    source.clear();
    expect(source.memorySize).toBe(0);
    expect((await source.lookup(need())).from).toEqual({ kind: 'cache', file: '/memory/ep-model.pem' });
  });

  it("the cache: the file the store read from, else the store's file for the model, else nothing", async () => {
    const { store, files } = memoryStore({ 'ep-model': { pem: PLAIN, modifiedMs: Date.now(), file: '/real/ep-model.pem' } });
    const http = fakeHttp(okReply(PLAIN)).http;
    expect((await new CertificateSource({ store, http }).lookup(need())).from).toEqual({ kind: 'cache', file: '/real/ep-model.pem' });
    files.set('ep-model', { pem: PLAIN, modifiedMs: Date.now() });
    store.fileFor = () => undefined;
    expect((await new CertificateSource({ store, http }).lookup(need())).from).toEqual({ kind: 'cache', file: '' });
  });

  it('clear() forgets memory: the next request reads again and parses afresh', async () => {
    const { http, calls } = fakeHttp(okReply(PLAIN));
    const source = new CertificateSource({ http });
    const first = await source.get(need());
    source.clear();
    const second = await source.get(need());
    expect(calls).toHaveLength(2);
    expect(second).not.toBe(first);
    expect(second.pem).toBe(PLAIN);
  });
});

describe('which base URLs use the store', () => {
  it('a base URL storesFor refuses neither reads nor writes the store, and has no cache file', async () => {
    const { store, counts } = memoryStore({ 'ep-model': { pem: PLAIN, modifiedMs: Date.now() } });
    const OTHER = 'https://gateway.example/v1';
    const source = new CertificateSource({ store, storesFor: (baseUrl) => baseUrl === OTHER, http: fakeHttp(okReply(PLAIN)).http });
    expect((await source.lookup(need())).from).toEqual({ kind: 'service', url: `${BASE}/e2e/get/certificate`, file: undefined });
    expect(counts).toEqual({ read: 0, write: 0 });
    expect(source.cacheFileFor(BASE, 'ep-model')).toBeUndefined();
    expect(await source.readCache(BASE, 'ep-model')).toBeUndefined();
    expect(source.cacheFileFor(OTHER, 'ep-model')).toBe('/memory/ep-model.pem');
    expect(await source.readCache(OTHER, 'ep-model')).toMatchObject({ pem: PLAIN });
  });
});

describe('shared fetches when waiters leave', () => {
  /** A source whose first fetch lost its only waiter, and the request made after it: a second fetch. */
  async function afterADroppedFetch() {
    const held = heldHttp();
    const source = new CertificateSource({ http: held.http });
    const controller = new AbortController();
    const leaving = source.get(need({ signal: controller.signal }));
    await held.arrived[0]!.promise;
    controller.abort(new Error('left'));
    await expect(leaving).rejects.toThrow('left');
    // The first fetch has not noticed yet; the next request does not wait for it.
    const next = source.get(need());
    await settled();
    expect(held.calls).toHaveLength(2);
    return { held, source, next };
  }

  it('when its only waiter leaves, a fetch is dropped at once: the next request fetches afresh', async () => {
    const { held, next } = await afterADroppedFetch();
    held.answer(1, okReply(PLAIN));
    expect((await next).pem).toBe(PLAIN);
    expect(held.calls).toHaveLength(2);
    held.answer(0, { status: 503, text: 'late' });
  });

  it('a dropped fetch that ends later does not drop the newer fetch of the same model', async () => {
    const { held, source, next: second } = await afterADroppedFetch();
    // The dropped fetch fails now, while the newer one still runs; a third request joins the newer.
    held.answer(0, { status: 503, text: 'late' });
    await settled();
    const third = source.get(need());
    await settled();
    expect(held.calls).toHaveLength(2);
    held.answer(1, okReply(PLAIN));
    expect(await third).toBe(await second);
  });

  it('a fetch whose waiters all left while the disk cache was read starts with its signal aborted', async () => {
    const reading = gate();
    const readStarted = gate();
    const { store } = memoryStore();
    const read = store.read;
    store.read = async (baseUrl, model) => {
      readStarted.open();
      await reading.promise;
      return read(baseUrl, model);
    };
    const held = heldHttp();
    const source = new CertificateSource({ store, http: held.http });
    const controller = new AbortController();
    const leaving = source.get(need({ signal: controller.signal }));
    await readStarted.promise;
    controller.abort(new Error('left'));
    await expect(leaving).rejects.toThrow('left');
    reading.open();
    await held.arrived[0]!.promise;
    expect(held.calls[0]!.abortedAtCall).toBe(true);
    held.answer(0, { status: 503, text: '' });
  });
});

describe('the time limit of a fetch', () => {
  it('a fetch over the time limit: what to do, and the timeout as the cause', async () => {
    const { http } = fakeHttp((request) => untilAborted(request.signal));
    const source = new CertificateSource({ http, timeoutMs: 5 });
    const error = await rejection(source.get(need()));
    expect(error).toBeInstanceOf(CertificateUnavailableError);
    expect(error.message).toBe('the certificate service did not answer within 5 ms; nothing was sent. Raise certificateTimeout or check the network');
    expect(error.cause).toBeInstanceOf(DOMException);
    expect(error.cause).toMatchObject({ name: 'TimeoutError', message: 'The certificate fetch timed out' });
  });

  it('a fetch that ended leaves neither its timer nor its abort listener behind', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const added: [EventTarget, unknown][] = [];
    const removed: [EventTarget, unknown][] = [];
    const add = EventTarget.prototype.addEventListener;
    const remove = EventTarget.prototype.removeEventListener;
    vi.spyOn(EventTarget.prototype, 'addEventListener').mockImplementation(function (this: EventTarget, type, listener, options) {
      if (type === 'abort') added.push([this, listener]);
      add.call(this, type, listener, options);
    });
    vi.spyOn(EventTarget.prototype, 'removeEventListener').mockImplementation(function (this: EventTarget, type, listener, options) {
      if (type === 'abort') removed.push([this, listener]);
      remove.call(this, type, listener, options);
    });
    const source = new CertificateSource({ http: fakeHttp(okReply(PLAIN)).http });
    expect((await source.get(need())).pem).toBe(PLAIN);
    expect(vi.getTimerCount()).toBe(0);
    expect(added.length).toBeGreaterThan(0);
    for (const [target, listener] of added) {
      expect(removed.some(([t, l]) => t === target && l === listener)).toBe(true);
    }
  });
});
