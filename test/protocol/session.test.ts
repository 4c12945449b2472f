/**
 * The handshake and the text encryption (protocol §2, §3), checked against an independent
 * node:crypto implementation of the service's side (test/helpers/server-crypto.ts).
 */
import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BackendName } from '../../src/crypto/backend.js';
import { DecryptionFailedError, InvalidCertificateError, InvalidKeyError } from '../../src/errors.js';
import { parseCertificate } from '../../src/protocol/certificate.js';
import { createSession, sessionFromKey } from '../../src/protocol/create-session.js';
import { makeCertificate } from '../helpers/make-certificate.js';
import { deriveSession, serverDecrypt, serverEncrypt } from '../helpers/server-crypto.js';

const BACKENDS: BackendName[] = ['node', 'noble'];
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

const key = fc.uint8Array({ minLength: 32, maxLength: 32 });
const nonce = fc.uint8Array({ minLength: 12, maxLength: 12 });
const text = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => s.isWellFormed()),
  fc.constant(''),
);

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** Runs `fn` and returns what it threw; fails the test when it returns instead. */
function thrown(fn: () => unknown): unknown {
  let result: unknown;
  try {
    result = fn();
  } catch (error) {
    return error;
  }
  throw new Error(`expected a throw, got ${JSON.stringify(result)}`);
}

describe.each(BACKENDS)('sessionFromKey, %s backend', (backend) => {
  it('decryptText(encryptText(s)) is s for any well-formed string', () => {
    fc.assert(
      fc.property(key, nonce, text, (k, n, s) => {
        const session = sessionFromKey(k, n, { backend });
        expect(session.decryptText(session.encryptText(s))).toBe(s);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps a leading byte order mark, NUL and the last code point', () => {
    const session = sessionFromKey(new Uint8Array(32), new Uint8Array(12), { backend });
    for (const s of ['\ufeff', '\ufeffa\ufeff', '\0', '\u{10ffff}', '\r\n', 'é'.normalize('NFD'), 'x'.repeat(100_000)]) {
      expect(session.decryptText(session.encryptText(s))).toBe(s);
      expect(serverDecrypt(session.key, session.nonce, session.encryptText(s))).toBe(s);
    }
  });

  it('gives the same ciphertext as the other backend and as node:crypto aes-256-gcm', () => {
    const other = backend === 'node' ? 'noble' : 'node';
    fc.assert(
      fc.property(key, nonce, text, (k, n, s) => {
        const ours = sessionFromKey(k, n, { backend }).encryptText(s);
        expect(ours).toBe(sessionFromKey(k, n, { backend: other }).encryptText(s));
        expect(ours).toBe(serverEncrypt(k, n, s));
        expect(serverDecrypt(k, n, ours)).toBe(s);
        expect(ours.length).toBe(Math.ceil((Buffer.byteLength(s, 'utf8') + 16) / 3) * 4);
      }),
      { numRuns: 150 },
    );
  });

  it('refuses any single changed character of a ciphertext', () => {
    fc.assert(
      fc.property(
        key,
        nonce,
        text,
        fc.nat(),
        fc.oneof(fc.constantFrom(...ALPHABET), fc.constantFrom('=', '-', '_', ' ', '\n', '.', 'é')),
        (k, n, s, at, ch) => {
          const session = sessionFromKey(k, n, { backend });
          const ciphertext = session.encryptText(s);
          const index = at % ciphertext.length;
          fc.pre(ciphertext[index] !== ch);
          const altered = ciphertext.slice(0, index) + ch + ciphertext.slice(index + 1);
          const error = thrown(() => session.decryptText(altered));
          expect(error).toBeInstanceOf(DecryptionFailedError);
          expect((error as DecryptionFailedError).code).toBe('ERR_ARK_E2EE_DECRYPTION_FAILED');
          expect((error as Error).message).not.toContain(hex(k));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses text under another key or nonce, and cut or empty text', () => {
    const k = new Uint8Array(32).fill(7);
    const n = new Uint8Array(12).fill(9);
    const ciphertext = serverEncrypt(k, n, 'hello');
    const otherKey = sessionFromKey(new Uint8Array(32).fill(8), n, { backend });
    const otherNonce = sessionFromKey(k, new Uint8Array(12).fill(8), { backend });
    const session = sessionFromKey(k, n, { backend });
    for (const fn of [
      () => otherKey.decryptText(ciphertext),
      () => otherNonce.decryptText(ciphertext),
      () => session.decryptText(ciphertext.slice(0, -4)),
      () => session.decryptText(''),
      () => session.decryptText('AAAA'),
    ]) {
      expect(thrown(fn)).toBeInstanceOf(DecryptionFailedError);
    }
  });

  it('refuses keys and nonces of the wrong length with InvalidKeyError', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 64 }),
        fc.uint8Array({ maxLength: 24 }),
        (k, n) => {
          fc.pre(k.length !== 32 || n.length !== 12);
          const error = thrown(() => sessionFromKey(k, n, { backend }));
          expect(error).toBeInstanceOf(InvalidKeyError);
          expect((error as InvalidKeyError).code).toBe('ERR_ARK_E2EE_INVALID_KEY');
          if (k.length >= 4) expect((error as Error).message).not.toContain(hex(k));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('copies the key and nonce it is given', () => {
    const k = new Uint8Array(32).fill(1);
    const n = new Uint8Array(12).fill(2);
    const session = sessionFromKey(k, n, { backend });
    const before = session.encryptText('x');
    k.fill(3);
    n.fill(4);
    expect(session.encryptText('x')).toBe(before);
    expect(session.token).toBe('');
    expect(session.encryptInfo).toBeUndefined();
    expect(session.backend.name).toBe(backend);
  });
});

describe.each(BACKENDS)('createSession, %s backend', (backend) => {
  const notAfter = new Date('2031-05-06T07:08:09.999Z');
  const plain = makeCertificate({ notAfter });
  const aicc = makeCertificate({ notAfter, ringId: 'ring-1', keyId: 'key-1' });

  it('derives the key and nonce the service derives from the token', () => {
    const certificate = parseCertificate(plain.pem);
    for (let i = 0; i < 20; i++) {
      const session = createSession(certificate, { backend });
      const service = deriveSession(plain.privateKey, session.token);
      expect(hex(session.key)).toBe(hex(service.key));
      expect(hex(session.nonce)).toBe(hex(service.nonce));
      expect(serverDecrypt(service.key, service.nonce, session.encryptText('ping'))).toBe('ping');
      expect(session.decryptText(serverEncrypt(service.key, service.nonce, 'pong'))).toBe('pong');
    }
  });

  it('makes a fresh ephemeral key for each session', () => {
    const certificate = parseCertificate(plain.pem);
    const tokens = new Set<string>();
    const keys = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const session = createSession(certificate, { backend });
      expect(session.token).toMatch(/^[A-Za-z0-9+/]{87}=$/);
      expect(session.token.length).toBe(88);
      const point = Buffer.from(session.token, 'base64');
      expect(point.length).toBe(65);
      expect(point[0]).toBe(0x04);
      expect(session.key.length).toBe(32);
      expect(session.nonce.length).toBe(12);
      tokens.add(session.token);
      keys.add(hex(session.key));
    }
    expect(tokens.size).toBe(200);
    expect(keys.size).toBe(200);
  });

  it('uses a given ephemeral scalar, like the service', () => {
    const certificate = parseCertificate(plain.pem);
    const scalar = new Uint8Array(32).fill(0x11);
    const a = createSession(certificate, { backend, unsafeFixedEphemeralKeyForTests: scalar });
    const b = createSession(certificate, { backend: backend === 'node' ? 'noble' : 'node', unsafeFixedEphemeralKeyForTests: scalar });
    expect(a.token).toBe(b.token);
    expect(hex(a.key)).toBe(hex(b.key));
    expect(hex(a.nonce)).toBe(hex(b.nonce));
    expect(hex(deriveSession(plain.privateKey, a.token).key)).toBe(hex(a.key));
  });

  it('puts notAfter as integer seconds in encryptInfo, and the AICC ids in AICC mode', () => {
    const expireTime = Math.floor(notAfter.getTime() / 1000);
    const session = createSession(parseCertificate(plain.pem), { backend });
    expect(session.encryptInfo).toEqual({ ExpireTime: expireTime });
    expect(Number.isInteger(session.encryptInfo?.ExpireTime)).toBe(true);
    expect(JSON.stringify(session.encryptInfo)).toBe(`{"ExpireTime":${expireTime}}`);
    // A notAfter with milliseconds (certificates carry whole seconds) still gives whole seconds.
    const withMs = { ...parseCertificate(plain.pem), notAfter };
    expect(createSession(withMs, { backend }).encryptInfo?.ExpireTime).toBe(expireTime);

    const aiccSession = createSession(parseCertificate(aicc.pem), { backend, aicc: true });
    expect(aiccSession.encryptInfo).toEqual({
      ExpireTime: expireTime,
      Version: 'AICCv0.1',
      RingID: 'ring-1',
      KeyID: 'key-1',
    });
    const service = deriveSession(aicc.privateKey, aiccSession.token);
    expect(hex(aiccSession.key)).toBe(hex(service.key));
  });

  it('refuses AICC mode on a certificate without AICC ids', () => {
    const certificate = parseCertificate(plain.pem);
    expect(() => createSession(certificate, { backend, aicc: true })).toThrow(InvalidCertificateError);
  });

  it('refuses a bad ephemeral scalar without showing it', () => {
    const certificate = parseCertificate(plain.pem);
    for (const scalar of [new Uint8Array(31).fill(5), new Uint8Array(32), new Uint8Array(32).fill(0xff)]) {
      const error = thrown(() => createSession(certificate, { backend, unsafeFixedEphemeralKeyForTests: scalar }));
      expect(error).toBeInstanceOf(InvalidKeyError);
      expect((error as Error).message).not.toContain(hex(scalar));
    }
  });

  it('keeps the key and nonce out of JSON.stringify, util.inspect, spreads and Object.keys', () => {
    const certificate = parseCertificate(aicc.pem);
    const session = createSession(certificate, { backend, aicc: true });
    const secrets = [session.key, session.nonce].flatMap((bytes) => [
      hex(bytes),
      Buffer.from(bytes).toString('base64'),
      Array.from(bytes).join(','),
    ]);
    const shown = [
      JSON.stringify(session),
      JSON.stringify({ session }),
      inspect(session, { depth: 10, showHidden: false }),
      inspect({ nested: session }, { depth: 10 }),
      JSON.stringify({ ...session }),
      String(Object.keys(session)),
    ];
    for (const text of shown) {
      for (const secret of secrets) expect(text).not.toContain(secret);
      expect(text).not.toMatch(/"key"|"nonce"/);
    }
    expect(JSON.parse(JSON.stringify(session))).toEqual({
      token: session.token,
      encryptInfo: session.encryptInfo,
      backend: backend,
    });
    expect(Object.keys(session)).not.toContain('key');
    expect(Object.keys(session)).not.toContain('nonce');
    // Still reachable, and still the key the service derives.
    expect(session.key.length).toBe(32);
    expect(session.nonce.length).toBe(12);
    const service = deriveSession(aicc.privateKey, session.token);
    expect(hex(session.key)).toBe(hex(service.key));
    expect(serverDecrypt(service.key, service.nonce, session.encryptText('hello'))).toBe('hello');
  });
});
