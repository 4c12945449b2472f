/**
 * Where an asynchronous session agrees (crypto/session-crypto.ts) when `#crypto/native` has no
 * node:crypto backend, as in a browser or an edge runtime (mocked here, so that Node runs the
 * browser's path): WebCrypto for `auto`, noble loaded on demand for `noble`, without
 * `crypto.subtle` or with a fixed scalar; and the fetch wrapper on that path, with a certificate
 * whose key is off the curve refused before anything is sent.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CryptoBackend } from '../../src/crypto/backend.js';
import { nobleBackend } from '../../src/crypto/noble.js';
import { loadNobleOnDemand } from '../../src/crypto/noble-lazy.js';
import { webCryptoSessionBackend } from '../../src/crypto/session-crypto.js';
import { resolveBackend } from '../../src/crypto/select.js';
import { ArkE2EEError, InvalidCertificateError, InvalidKeyError } from '../../src/errors.js';
import { parseCertificate } from '../../src/protocol/certificate.js';
import { createSessionAsync } from '../../src/protocol/session-async.js';
import { createEncryptedFetch } from '../../src/transport/create-encrypted-fetch.js';
import { startMockArkServer, type MockArkServer } from '../../src/testing/index.js';
import { makeCertificate } from '../helpers/make-certificate.js';
import { deriveSession } from '../helpers/server-crypto.js';

vi.mock('#crypto/native', () => ({ nativeBackend: () => undefined }));

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const made = makeCertificate({ ringId: 'ring-1', keyId: 'key-1' });
const certificate = parseCertificate(made.pem);

/** `pem` with the last byte of its key's y coordinate changed: a point off the curve. */
function offCurvePem(pem: string, point: Uint8Array): string {
  const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  const at = der.indexOf(Buffer.from(point));
  expect(at).toBeGreaterThan(0);
  der[at + 64]! ^= 1;
  const lines = der.toString('base64').match(/.{1,64}/g)!.join('\n');
  return `-----BEGIN CERTIFICATE-----\n${lines}\n-----END CERTIFICATE-----\n`;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('createSessionAsync where there is no node:crypto backend', () => {
  it("agrees on WebCrypto for backend 'auto': a session the service opens, AES-GCM on noble", async () => {
    expect(resolveBackend('auto').name).toBe('noble'); // the mock is in force
    const session = await createSessionAsync(certificate, { aicc: true }, loadNobleOnDemand);
    expect(session.backend).toBe(webCryptoSessionBackend);
    const service = deriveSession(made.privateKey, session.token);
    expect(hex(session.key)).toBe(hex(service.key));
    expect(hex(session.nonce)).toBe(hex(service.nonce));
    expect(session.encryptInfo).toMatchObject({ RingID: 'ring-1', KeyID: 'key-1' });
  });

  it("loads noble for backend 'noble', and when the runtime has no crypto.subtle", async () => {
    const asked = await createSessionAsync(certificate, { backend: 'noble' }, loadNobleOnDemand);
    expect(asked.backend).toBe(nobleBackend);
    // A page on plain http: getRandomValues, but no subtle.
    const real = globalThis.crypto;
    vi.stubGlobal('crypto', { getRandomValues: real.getRandomValues.bind(real) });
    expect(globalThis.crypto.subtle).toBeUndefined();
    const withoutSubtle = await createSessionAsync(certificate, {}, loadNobleOnDemand);
    expect(withoutSubtle.backend).toBe(nobleBackend);
    expect(hex(deriveSession(made.privateKey, withoutSubtle.token).key)).toBe(hex(withoutSubtle.key));
  });

  it('takes a fixed scalar on noble (WebCrypto cannot take a bare scalar): the vector bytes', async () => {
    const vectors = fileURLToPath(new URL('../../vectors/handshake.json', import.meta.url));
    const c = (JSON.parse(readFileSync(vectors, 'utf8')) as {
      cases: { certificate: string; ephemeral_private_key: string; aicc: boolean; expect: { session_token: string; key: string; nonce: string } }[];
    }).cases[0]!;
    const session = await createSessionAsync(parseCertificate(c.certificate), {
      aicc: c.aicc,
      unsafeFixedEphemeralKeyForTests: new Uint8Array(Buffer.from(c.ephemeral_private_key, 'hex')),
    }, loadNobleOnDemand);
    expect(session.backend).toBe(nobleBackend);
    expect([session.token, hex(session.key), hex(session.nonce)]).toEqual([c.expect.session_token, c.expect.key, c.expect.nonce]);
  });

  it("refuses backend 'node' as resolveBackend does, and uses a backend object as it is", async () => {
    const refusal = (() => {
      try {
        resolveBackend('node');
      } catch (error) {
        return error as Error;
      }
      throw new Error('resolveBackend accepted node');
    })();
    await expect(createSessionAsync(certificate, { backend: 'node' }, loadNobleOnDemand)).rejects.toThrow(refusal.message);
    await expect(createSessionAsync(certificate, { backend: 'node' }, loadNobleOnDemand)).rejects.toBeInstanceOf(ArkE2EEError);
    const own: CryptoBackend = { ...nobleBackend };
    expect((await createSessionAsync(certificate, { backend: own }, loadNobleOnDemand)).backend).toBe(own);
  });

  it('refuses AICC mode on a plain certificate, and a key off the curve with noble’s words', async () => {
    const plain = parseCertificate(makeCertificate().pem);
    await expect(createSessionAsync(plain, { aicc: true }, loadNobleOnDemand)).rejects.toBeInstanceOf(InvalidCertificateError);
    const bad = parseCertificate(offCurvePem(made.pem, certificate.publicKey));
    for (const backend of ['auto', 'noble'] as const) {
      const error = await createSessionAsync(bad, { backend }, loadNobleOnDemand).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidKeyError);
      expect((error as Error).message).toBe('peer public key is not a valid point on P-256');
    }
  });
});

describe('createEncryptedFetch on the WebCrypto path', () => {
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
    });

  it('sends requests the service decrypts, each with its own session', async () => {
    const encryptedFetch = createEncryptedFetch({ errors: 'throw', cacheDir: false });
    const before = server.requests.length;
    for (let i = 0; i < 8; i++) {
      const answer = (await (await chat(encryptedFetch, `hello ${i}`)).json()) as { choices: { message: { content: string } }[] };
      expect(answer.choices[0]!.message.content).toBe(`echo: hello ${i}`);
    }
    const tokens = server.requests.slice(before).filter((r) => r.path.endsWith('/chat/completions')).map((r) => r.headers['x-session-token']);
    expect(new Set(tokens).size).toBe(8);
  });

  it("loads noble on demand for backend 'noble', and its sessions work as well", async () => {
    const encryptedFetch = createEncryptedFetch({ errors: 'throw', cacheDir: false, backend: 'noble', sessionPool: 0 });
    const answer = (await (await chat(encryptedFetch, 'on noble')).json()) as { choices: { message: { content: string } }[] };
    expect(answer.choices[0]!.message.content).toBe('echo: on noble');
  });

  it('refuses a certificate whose key is off the curve: InvalidKeyError, nothing sent', async () => {
    const certificatePem = offCurvePem(server.certificatePem, parseCertificate(server.certificatePem).publicKey);
    for (const sessionPool of [4, 0]) {
      const encryptedFetch = createEncryptedFetch({ errors: 'throw', cacheDir: false, certificate: certificatePem, sessionPool });
      const before = server.requests.length;
      const error = await chat(encryptedFetch, 'secret').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidKeyError);
      expect((error as Error).message).toBe('peer public key is not a valid point on P-256');
      expect(server.requests.length).toBe(before);
    }
  });
});
