/**
 * The asynchronous handshake's edges (issue 16, third round of mutation testing): what
 * crypto/webcrypto-agree.ts, crypto/session-crypto.ts and crypto/noble-lazy.ts do when WebCrypto
 * answers in an unexpected form, refuses a step, or is missing; that a working WebCrypto is used
 * (not silently replaced by noble), that its ephemeral scalar cannot be exported, that a fixed test
 * key is never swapped for a fresh one, a WebCrypto without HKDF falls back to noble's HKDF, and the
 * refusals' words in full. A subtle here is the real one with one operation changed, so each case
 * isolates one check. The backend of a WebCrypto session is built once, when session-crypto.ts
 * loads: a mutation run switches it only then, so it is also read from a copy loaded afresh.
 */
import * as nodeCrypto from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CryptoBackend } from '../../src/crypto/backend.js';
import { nobleBackend } from '../../src/crypto/noble.js';
import { sessionCrypto, webCryptoSessionBackend, webCryptoSessionCrypto, type NobleLoader } from '../../src/crypto/session-crypto.js';
import {
  agreementSubtle,
  webCryptoAgree,
  webCryptoHkdf,
  type AgreementSubtle,
  type WebCryptoKeyPair,
} from '../../src/crypto/webcrypto-agree.js';
import { ArkE2EEError, InvalidKeyError } from '../../src/errors.js';
import { loadAfresh } from '../helpers/load-afresh.js';

const realSubtle = globalThis.crypto.subtle as unknown as AgreementSubtle;
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** A peer whose secret side node:crypto holds, to check the shared secret independently. */
function peer(): { point: Uint8Array; secretWith: (publicKey: Uint8Array) => string } {
  const ecdh = nodeCrypto.createECDH('prime256v1');
  ecdh.generateKeys();
  return { point: new Uint8Array(ecdh.getPublicKey()), secretWith: (publicKey) => ecdh.computeSecret(publicKey).toString('hex') };
}

/** A noble loader that counts its calls. */
function countingLoader(): { load: NobleLoader; calls: () => number } {
  let calls = 0;
  return {
    load: () => {
      calls += 1;
      return Promise.resolve(nobleBackend);
    },
    calls: () => calls,
  };
}

/** The real subtle with some operations replaced. */
function changed(overrides: Partial<AgreementSubtle>): AgreementSubtle {
  return {
    generateKey: (a, e, u) => realSubtle.generateKey(a, e, u),
    importKey: (f, d, a, e, u) => realSubtle.importKey(f, d, a, e, u),
    exportKey: (f, k) => realSubtle.exportKey(f, k),
    deriveBits: (a, k, l) => realSubtle.deriveBits(a, k, l),
    ...overrides,
  };
}

async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error as Error & { code?: string },
  );
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('a working WebCrypto is used, with a key that stays inside it', () => {
  it('agrees on WebCrypto without asking for noble; the peer derives the same secret', async () => {
    const loader = countingLoader();
    const other = peer();
    const agreement = await webCryptoSessionCrypto(realSubtle, loader.load).agree(other.point);
    expect(hex(agreement.sharedSecret)).toBe(other.secretWith(agreement.publicKey));
    expect(loader.calls()).toBe(0);
    const direct = await webCryptoAgree(realSubtle, other.point);
    expect(hex(direct.sharedSecret)).toBe(other.secretWith(direct.publicKey));
  });

  it('draws an ephemeral key whose private half cannot be exported', async () => {
    const pairs: WebCryptoKeyPair[] = [];
    const watching = changed({
      generateKey: async (a, e, u) => {
        const pair = await realSubtle.generateKey(a, e, u);
        pairs.push(pair);
        return pair;
      },
    });
    await webCryptoAgree(watching, peer().point);
    expect(pairs).toHaveLength(1);
    const privateKey = pairs[0]!.privateKey as { extractable: boolean; usages: string[] };
    expect(privateKey.extractable).toBe(false);
    expect(privateKey.usages).toEqual(['deriveBits']);
    const { subtle } = globalThis.crypto;
    await expect(subtle.exportKey('pkcs8', pairs[0]!.privateKey as CryptoKey)).rejects.toThrow();
  });
});

describe('WebCrypto refusing or answering oddly: refused, never passed over', () => {
  it('a peer key refused on import is refused there: deriveBits is not asked', async () => {
    let derived = 0;
    const refusingImport = changed({
      importKey: () => Promise.reject(new DOMException('bad point', 'DataError')),
      deriveBits: () => {
        derived += 1;
        return Promise.resolve(new ArrayBuffer(32));
      },
    });
    const error = await rejection(webCryptoAgree(refusingImport, peer().point));
    expect(error).toBeInstanceOf(InvalidKeyError);
    expect(error.message).toBe('peer public key is not a valid point on P-256');
    expect(derived).toBe(0);
  });

  it('a peer key refused only by deriveBits is InvalidKeyError too', async () => {
    const refusingDerive = changed({ deriveBits: () => Promise.reject(new DOMException('bad point', 'OperationError')) });
    const error = await rejection(webCryptoAgree(refusingDerive, peer().point));
    expect(error).toBeInstanceOf(InvalidKeyError);
    expect(error.message).toBe('peer public key is not a valid point on P-256');
  });

  const odd: [string, Partial<AgreementSubtle>][] = [
    ['a 64-byte public key', { exportKey: async (f, k) => (await realSubtle.exportKey(f, k)).slice(0, 64) }],
    [
      'a 65-byte public key with a compressed prefix',
      {
        exportKey: async (f, k) => {
          const bytes = new Uint8Array(await realSubtle.exportKey(f, k));
          bytes[0] = 0x02;
          return bytes.buffer;
        },
      },
    ],
    ['a 31-byte shared secret', { deriveBits: async (a, k, l) => (await realSubtle.deriveBits(a, k, l)).slice(0, 31) }],
  ];

  it.each(odd)('%s: ArkE2EEError naming noble; the session crypto then agrees on noble', async (_, overrides) => {
    const subtle = changed(overrides);
    const other = peer();
    const error = await rejection(webCryptoAgree(subtle, other.point));
    expect(error).toBeInstanceOf(ArkE2EEError);
    expect(error).not.toBeInstanceOf(InvalidKeyError);
    expect(error.code).toBe('ERR_ARK_E2EE');
    expect(error.message).toBe("WebCrypto gave an ECDH result of an unexpected form; use backend: 'noble'");
    const loader = countingLoader();
    const agreement = await webCryptoSessionCrypto(subtle, loader.load).agree(other.point);
    expect(loader.calls()).toBe(1);
    expect(agreement.publicKey).toHaveLength(65);
    expect(hex(agreement.sharedSecret)).toBe(other.secretWith(agreement.publicKey));
  });

  it('a fixed test key is never swapped for a fresh one: a WebCrypto failure with it is thrown, noble not asked', async () => {
    const ecdh = nodeCrypto.createECDH('prime256v1');
    ecdh.generateKeys();
    const { subtle } = globalThis.crypto;
    const algorithm = { name: 'ECDH', namedCurve: 'P-256' };
    const generated = await subtle.generateKey(algorithm, false, ['deriveBits']);
    const fixed: WebCryptoKeyPair = { privateKey: generated.privateKey, publicKey: generated.publicKey };
    const noEcdh = changed({ importKey: () => Promise.reject(new DOMException('not supported', 'NotSupportedError')) });
    const loader = countingLoader();
    const error = await rejection(webCryptoSessionCrypto(noEcdh, loader.load, fixed).agree(new Uint8Array(ecdh.getPublicKey())));
    expect(error).toBeInstanceOf(InvalidKeyError);
    expect(loader.calls()).toBe(0);
  });
});

describe('a WebCrypto without HKDF: the session derives on noble, the same bytes', () => {
  const ikm = new Uint8Array(32).fill(3);
  const salt = new Uint8Array(16).fill(9);
  const info = new TextEncoder().encode('ark session');
  const notSupported = () => Promise.reject(new DOMException('HKDF is not supported', 'NotSupportedError'));
  const cases: [string, Partial<AgreementSubtle>][] = [
    ['importKey refuses HKDF', { importKey: (f, d, a, e, u) => (a === 'HKDF' ? notSupported() : realSubtle.importKey(f, d, a, e, u)) }],
    ['deriveBits refuses HKDF', { deriveBits: (a, k, l) => (a.name === 'HKDF' ? notSupported() : realSubtle.deriveBits(a, k, l)) }],
  ];

  it.each(cases)('%s: noble is loaded once and gives its HKDF of the same inputs', async (_, overrides) => {
    const subtle = changed(overrides);
    await expect(webCryptoHkdf(subtle, ikm, salt, info, 44)).rejects.toThrow('HKDF is not supported');
    const loader = countingLoader();
    const got = await webCryptoSessionCrypto(subtle, loader.load).hkdf(ikm, salt, info, 44);
    expect(loader.calls()).toBe(1);
    expect(got).toBeInstanceOf(Uint8Array);
    expect(hex(got)).toBe(hex(nobleBackend.hkdf(ikm, salt, info, 44)));
    expect(hex(got)).toBe(Buffer.from(nodeCrypto.hkdfSync('sha256', ikm, salt, info, 44)).toString('hex'));
  });

  it('a working HKDF is not passed to noble', async () => {
    const loader = countingLoader();
    const got = await webCryptoSessionCrypto(realSubtle, loader.load).hkdf(ikm, salt, info, 44);
    expect(loader.calls()).toBe(0);
    expect(hex(got)).toBe(hex(nobleBackend.hkdf(ikm, salt, info, 44)));
  });
});

describe('HKDF on WebCrypto at its bounds', () => {
  it('gives 8160 bytes, the most HKDF-SHA256 gives, as node:crypto does', async () => {
    const ikm = new Uint8Array(32).fill(7);
    const salt = new Uint8Array(8).fill(1);
    const info = new TextEncoder().encode('bound');
    const got = await webCryptoHkdf(realSubtle, ikm, salt, info, 8160);
    expect(got).toHaveLength(8160);
    expect(hex(got)).toBe(Buffer.from(nodeCrypto.hkdfSync('sha256', ikm, salt, info, 8160)).toString('hex'));
  });

  it('refuses a length it cannot give, saying which lengths it can', async () => {
    const ikm = new Uint8Array(32);
    for (const length of [0, 8161, 2.5]) {
      const error = await rejection(webCryptoHkdf(realSubtle, ikm, ikm, ikm, length));
      expect(error).toBeInstanceOf(ArkE2EEError);
      expect(error.message).toBe(`HKDF-SHA256 output length must be an integer from 1 to 8160 bytes, got ${length}`);
    }
  });
});

describe('where the handshake runs, and what a WebCrypto session’s backend says', () => {
  it('a runtime with no crypto global at all has no subtle (noble then), not a TypeError', () => {
    vi.stubGlobal('crypto', undefined);
    expect(agreementSubtle()).toBeUndefined();
    vi.unstubAllGlobals();
    expect(agreementSubtle()).toBe(globalThis.crypto.subtle);
  });

  it('under Node agrees on node:crypto for auto, with a fixed scalar too, and never loads noble', async () => {
    const loader = countingLoader();
    const auto = await sessionCrypto('auto', undefined, loader.load);
    expect(auto.backend.name).toBe('node');
    const scalar = new Uint8Array(32);
    scalar[31] = 5;
    const other = peer();
    const fixed = await sessionCrypto(undefined, scalar, loader.load);
    expect(fixed.backend.name).toBe('node');
    const agreement = await fixed.agree(other.point);
    const expected = nodeCrypto.createECDH('prime256v1');
    expected.setPrivateKey(scalar);
    expect(hex(agreement.publicKey)).toBe(expected.getPublicKey('hex'));
    expect(hex(agreement.sharedSecret)).toBe(other.secretWith(agreement.publicKey));
    expect(loader.calls()).toBe(0);
  });

  it('its backend refuses ECDH and HKDF, each by name, pointing to noble', () => {
    const backend: CryptoBackend = webCryptoSessionBackend;
    // noble's AES-GCM encrypts its texts, and its name says so.
    expect(backend.name).toBe('noble');
    const bytes = new Uint8Array(65);
    const words = (operation: string) =>
      `this session's handshake ran on WebCrypto, and its backend carries only AES-GCM; for ${operation} use resolveBackend('noble')`;
    expect(() => backend.agree(bytes)).toThrow(new ArkE2EEError(words('ECDH')));
    expect(() => backend.hkdf(bytes, bytes, bytes, 4)).toThrow(new ArkE2EEError(words('HKDF')));
    try {
      backend.hkdf(bytes, bytes, bytes, 4);
    } catch (error) {
      expect((error as Error).message).toBe(words('HKDF'));
    }
  });
});

describe('session-crypto.ts loaded afresh: the backend of a WebCrypto session', () => {
  it('is noble by name, frozen, encrypts with noble\'s AES-GCM, and refuses ECDH and HKDF pointing to noble', async () => {
    const fresh = await loadAfresh(() => import('../../src/crypto/session-crypto.js'));
    const backend: CryptoBackend = fresh.webCryptoSessionBackend;
    expect(backend.name).toBe('noble');
    expect(Object.isFrozen(backend)).toBe(true);
    const key = new Uint8Array(32).fill(1);
    const nonce = new Uint8Array(12).fill(2);
    const plaintext = new TextEncoder().encode('hello');
    const sealed = backend.seal(key, nonce, plaintext);
    expect(hex(sealed)).toBe(hex(nobleBackend.seal(key, nonce, plaintext)));
    expect(Array.from(backend.open(key, nonce, sealed)!)).toEqual(Array.from(plaintext));
    expect(hex(backend.encryptBlock(key, new Uint8Array(16)))).toBe(hex(nobleBackend.encryptBlock(key, new Uint8Array(16))));
    const bytes = new Uint8Array(65);
    const words = (operation: string) =>
      `this session's handshake ran on WebCrypto, and its backend carries only AES-GCM; for ${operation} use resolveBackend('noble')`;
    const refusal = (call: () => unknown): Error & { code?: string } => {
      try {
        call();
      } catch (error) {
        return error as Error & { code?: string };
      }
      throw new Error('expected a refusal');
    };
    for (const [operation, call] of [
      ['ECDH', () => backend.agree(bytes)],
      ['HKDF', () => backend.hkdf(bytes, bytes, bytes, 4)],
    ] as const) {
      const error = refusal(call);
      // A fresh module's error class is a fresh class: its name and code, not instanceof.
      expect(error.name).toBe('ArkE2EEError');
      expect(error.code).toBe('ERR_ARK_E2EE');
      expect(error.message).toBe(words(operation));
    }
    // A session on WebCrypto carries that same backend.
    expect(fresh.webCryptoSessionCrypto(realSubtle, countingLoader().load).backend).toBe(backend);
  });
});

describe('noble that cannot load', () => {
  afterEach(() => {
    vi.doUnmock('../../src/crypto/noble.js');
    vi.resetModules();
  });

  it('is an ArkE2EEError saying nothing was sent and what to check', async () => {
    vi.resetModules();
    vi.doMock('../../src/crypto/noble.js', () => {
      throw new Error('chunk noble.js answered 404');
    });
    const { loadNobleOnDemand } = await import('../../src/crypto/noble-lazy.js');
    const { ArkE2EEError: FreshError } = await import('../../src/errors.js');
    const error = await rejection(loadNobleOnDemand());
    expect(error).toBeInstanceOf(FreshError);
    // The loader's own error follows the colon (vitest wraps the mock's throw in its own words).
    expect(error.message).toMatch(/^could not load the pure-JavaScript P-256 code \(noble\) for this session: Error: .+; nothing/s);
    expect(error.message).toMatch(
      /; nothing was sent\. Check that the bundle’s chunks are served, or run where crypto\.subtle exists \(https or localhost\)$/,
    );
  });
});
