/**
 * The session's refusals and its hiding of the key and nonce, read in full (issue 16): the error
 * codes, the offset and the words that tell the caller what to do, and that a logged, spread or
 * inspected session shows neither secret, nor can its methods or encryptInfo be swapped.
 */
import * as nodeCrypto from 'node:crypto';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { BackendName, CryptoBackend } from '../../src/crypto/backend.js';
import { createNodeBackend } from '../../src/crypto/node.js';
import { DecryptionFailedError, InvalidCertificateError, InvalidKeyError } from '../../src/errors.js';
import { parseCertificate } from '../../src/protocol/certificate.js';
import { createSession, sessionFromKey } from '../../src/protocol/create-session.js';
import { makeSession } from '../../src/protocol/session.js';
import { makeCertificate } from '../helpers/make-certificate.js';
import { loadAfresh } from '../helpers/load-afresh.js';
import { serverEncrypt } from '../helpers/server-crypto.js';

const BACKENDS: BackendName[] = ['node', 'noble'];

function thrown(fn: () => unknown): Error & { code?: string; offset?: number } {
  try {
    fn();
  } catch (error) {
    return error as Error & { code?: string; offset?: number };
  }
  throw new Error('expected a throw');
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

describe.each(BACKENDS)('session refusals, %s backend', (backend) => {
  it('a key or nonce of the wrong length: the expected and the given length', () => {
    const shortKey = thrown(() => sessionFromKey(new Uint8Array(31), new Uint8Array(12), { backend }));
    expect(shortKey).toBeInstanceOf(InvalidKeyError);
    expect(shortKey.code).toBe('ERR_ARK_E2EE_INVALID_KEY');
    expect(shortKey.message).toBe('session key must be 32 bytes, got 31');
    const longNonce = thrown(() => sessionFromKey(new Uint8Array(32), new Uint8Array(16), { backend }));
    expect(longNonce).toBeInstanceOf(InvalidKeyError);
    expect(longNonce.code).toBe('ERR_ARK_E2EE_INVALID_KEY');
    expect(longNonce.message).toBe('session nonce must be 12 bytes, got 16');
  });

  it('an answer that is not canonical base64: DecryptionFailedError at offset 0, saying so', () => {
    const session = sessionFromKey(new Uint8Array(32).fill(1), new Uint8Array(12).fill(2), { backend });
    const good = session.encryptText('hello');
    for (const text of ['not base64!', good.slice(0, -1), `${good} `]) {
      const error = thrown(() => session.decryptText(text));
      expect(error).toBeInstanceOf(DecryptionFailedError);
      expect(error.code).toBe('ERR_ARK_E2EE_DECRYPTION_FAILED');
      expect(error.offset).toBe(0);
      expect(error.message).toBe('answer text is not canonical base64, so it is not a ciphertext of this session');
    }
  });

  it('an answer that does not authenticate: DecryptionFailedError at offset 0, naming the causes', () => {
    const key = new Uint8Array(32).fill(3);
    const nonce = new Uint8Array(12).fill(4);
    const session = sessionFromKey(key, nonce, { backend });
    const underOtherKey = serverEncrypt(new Uint8Array(32).fill(5), nonce, 'secret answer');
    const error = thrown(() => session.decryptText(underOtherKey));
    expect(error).toBeInstanceOf(DecryptionFailedError);
    expect(error.code).toBe('ERR_ARK_E2EE_DECRYPTION_FAILED');
    expect(error.offset).toBe(0);
    expect(error.message).toBe(
      'answer text does not authenticate under this session key: it was altered, cut, or encrypted for another request',
    );
    expect(error.message).not.toContain('secret answer');
    expect(error.message).not.toContain(hex(key));
  });
});

describe.each(BACKENDS)('createSession refusals and hiding, %s backend', (backend) => {
  const plain = makeCertificate({ notAfter: new Date('2031-01-01T00:00:00Z') });
  const aicc = makeCertificate({ notAfter: new Date('2031-01-01T00:00:00Z'), ringId: 'ring-9', keyId: 'key-9' });

  it('AICC mode on a certificate without ring and key ids: the code and what to do', () => {
    const error = thrown(() => createSession(parseCertificate(plain.pem), { backend, aicc: true }));
    expect(error).toBeInstanceOf(InvalidCertificateError);
    expect(error.code).toBe('ERR_ARK_E2EE_INVALID_CERTIFICATE');
    expect(error.message).toContain('AICC mode needs a certificate that names a key ring and a key (SAN ring.<id>, key.<id>)');
    expect(error.message).toContain('fetch the certificate with AICC on, or turn AICC off');
  });

  it('without the aicc option, an AICC certificate gives a plain session', () => {
    const session = createSession(parseCertificate(aicc.pem), { backend });
    expect(Object.keys(session.encryptInfo ?? {})).toEqual(['ExpireTime']);
    expect(createSession(parseCertificate(plain.pem)).encryptInfo).toBeDefined();
  });

  it('util.inspect shows the public parts and "[hidden]" in place of the key and nonce', () => {
    const session = createSession(parseCertificate(aicc.pem), { backend, aicc: true });
    const shown = inspect(session, { depth: 10, showHidden: true });
    expect(shown).toContain("key: '[hidden]'");
    expect(shown).toContain("nonce: '[hidden]'");
    expect(shown).toContain(session.token);
    expect(shown).toContain(`backend: '${backend}'`);
    for (const secret of [session.key, session.nonce]) {
      expect(shown).not.toContain(hex(secret));
      expect(shown).not.toContain(Array.from(secret).join(', '));
    }
    expect(session.toJSON()).toEqual({ token: session.token, encryptInfo: session.encryptInfo, backend });
    expect(Object.getOwnPropertyDescriptor(session, 'key')?.enumerable).toBe(false);
    expect(Object.getOwnPropertyDescriptor(session, 'nonce')?.enumerable).toBe(false);
    // A spread copy holds the public parts and methods only: no key, no nonce, no inspect hook.
    expect(Reflect.ownKeys({ ...session }).sort()).toEqual(
      ['backend', 'decryptText', 'encryptInfo', 'encryptText', 'toJSON', 'token'],
    );
  });

  it('the session and its encryptInfo are frozen: no method can be swapped for a plain-text one', () => {
    const session = createSession(parseCertificate(aicc.pem), { backend, aicc: true });
    expect(Object.isFrozen(session)).toBe(true);
    expect(Object.isFrozen(session.encryptInfo)).toBe(true);
    expect(() => {
      (session as { encryptText: (text: string) => string }).encryptText = (text) => text;
    }).toThrow(TypeError);
    expect(session.encryptText('x')).not.toBe('x');
  });
});

describe('the session as a module loads it', () => {
  it('util.inspect of a session made by a copy of the module loaded afresh still hides the key and nonce', async () => {
    // The inspect hook's symbol is set once, when session.ts loads: read through a fresh copy.
    const fresh = await loadAfresh(() => import('../../src/protocol/create-session.js'));
    const session = fresh.sessionFromKey(new Uint8Array(32).fill(7), new Uint8Array(12).fill(9), { backend: 'node' });
    const shown = inspect(session, { depth: 10 });
    expect(shown).toContain("key: '[hidden]'");
    expect(shown).toContain("nonce: '[hidden]'");
    expect(shown).not.toContain('encryptText');
  });

  it('a backend with a one-call text sealer is used through it, and both ways give the same ciphertext', () => {
    const backend = createNodeBackend(nodeCrypto);
    const calls: string[] = [];
    const counting: CryptoBackend = {
      ...backend,
      sealTextToBase64: (key, nonce, text) => {
        calls.push(text);
        return backend.sealTextToBase64!(key, nonce, text);
      },
    };
    const key = new Uint8Array(32).fill(1);
    const nonce = new Uint8Array(12).fill(2);
    const withSealer = makeSession(counting, key, nonce, 'token', undefined);
    const withoutSealer = makeSession({ ...backend, sealTextToBase64: undefined }, key, nonce, 'token', undefined);
    expect(withSealer.encryptText('héllo')).toBe(withoutSealer.encryptText('héllo'));
    expect(calls).toEqual(['héllo']);
  });
});
