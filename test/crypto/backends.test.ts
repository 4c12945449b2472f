/**
 * The node (OpenSSL) and noble (pure JS) backends must be interchangeable: identical bytes for
 * identical inputs, each accepting what the other produced, and the same refusals.
 */
import * as nodeCrypto from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CryptoBackend } from '../../src/crypto/backend.js';
import { createNodeBackend } from '../../src/crypto/node.js';
import { nobleBackend } from '../../src/crypto/noble.js';
import { resolveBackend } from '../../src/crypto/select.js';
import { ArkE2EEError, InvalidKeyError } from '../../src/errors.js';

const node = createNodeBackend(nodeCrypto);
const noble = nobleBackend;
const both: CryptoBackend[] = [node, noble];

const hex = (b: Uint8Array | undefined): string =>
  b === undefined ? 'undefined' : Buffer.from(b).toString('hex');
const fromHex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

/** Order of the P-256 group. */
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const scalarBytes = (k: bigint): Uint8Array => fromHex(k.toString(16).padStart(64, '0'));
/** A valid private scalar in [1, n-1] as 32 bytes; fast-check favours the bounds 1 and n-1. */
const scalar = fc.bigInt({ min: 1n, max: N - 1n }).map(scalarBytes);
const aesKey = fc
  .constantFrom(16, 24, 32)
  .chain((n) => fc.uint8Array({ minLength: n, maxLength: n }));
const nonce = fc.uint8Array({ minLength: 12, maxLength: 12 });
const plaintext = fc.uint8Array({ maxLength: 200 });
const aad = fc.option(fc.uint8Array({ maxLength: 64 }), { nil: undefined });

/** The public point of a scalar, from node:crypto directly (neither backend is trusted here). */
function publicPoint(privateKey: Uint8Array): Uint8Array {
  const ecdh = nodeCrypto.createECDH('prime256v1');
  ecdh.setPrivateKey(privateKey);
  return new Uint8Array(ecdh.getPublicKey());
}
const G = publicPoint(scalarBytes(1n));

function aesEcb(key: Uint8Array, block: Uint8Array): Uint8Array {
  const cipher = nodeCrypto.createCipheriv(`aes-${key.length * 8}-ecb`, key, null);
  cipher.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([cipher.update(block), cipher.final()]));
}

describe('AES-GCM seal/open: node and noble agree', () => {
  it('seal gives identical bytes on both, and each opens the other', () => {
    fc.assert(
      fc.property(aesKey, nonce, plaintext, aad, (key, iv, msg, ad) => {
        const a = node.seal(key, iv, msg, ad);
        const b = noble.seal(key, iv, msg, ad);
        expect(hex(a)).toBe(hex(b));
        expect(a.length).toBe(msg.length + 16);
        expect(hex(node.open(key, iv, b, ad))).toBe(hex(msg));
        expect(hex(noble.open(key, iv, a, ad))).toBe(hex(msg));
      }),
    );
  });

  it('empty plaintext, with and without AAD, is the bare 16-byte tag on both', () => {
    const key = new Uint8Array(32).fill(7);
    const iv = new Uint8Array(12).fill(9);
    for (const ad of [undefined, new Uint8Array(0), new Uint8Array([1, 2, 3])]) {
      const a = node.seal(key, iv, new Uint8Array(0), ad);
      expect(a.length).toBe(16);
      expect(hex(noble.seal(key, iv, new Uint8Array(0), ad))).toBe(hex(a));
      for (const backend of both) expect(backend.open(key, iv, a, ad)?.length).toBe(0);
    }
  });

  it('one flipped bit anywhere in sealed makes open return undefined on both', () => {
    fc.assert(
      fc.property(aesKey, nonce, plaintext, aad, fc.nat(), (key, iv, msg, ad, bit) => {
        const sealed = node.seal(key, iv, msg, ad);
        const i = bit % (sealed.length * 8);
        const tampered = sealed.slice();
        tampered[i >> 3]! ^= 1 << (i & 7);
        for (const backend of both) expect(backend.open(key, iv, tampered, ad)).toBeUndefined();
      }),
    );
  });

  it('sealed shorter than a tag, wrong AAD or wrong nonce: undefined on both, no throw', () => {
    const key = new Uint8Array(32).fill(1);
    const iv = new Uint8Array(12);
    const sealed = node.seal(key, iv, new Uint8Array([1, 2, 3]), new Uint8Array([4]));
    for (const backend of both) {
      expect(backend.open(key, iv, new Uint8Array(0))).toBeUndefined();
      expect(backend.open(key, iv, sealed.subarray(0, 15), new Uint8Array([4]))).toBeUndefined();
      expect(backend.open(key, iv, sealed)).toBeUndefined();
      expect(backend.open(key, iv, sealed, new Uint8Array([5]))).toBeUndefined();
      expect(backend.open(key, new Uint8Array(12).fill(1), sealed, new Uint8Array([4]))).toBeUndefined();
    }
  });
});

describe('P-256 agree: node and noble agree', () => {
  it('same private key and peer: identical publicKey and sharedSecret; symmetric', () => {
    fc.assert(
      fc.property(scalar, scalar, (a, b) => {
        const pubA = publicPoint(a);
        const pubB = publicPoint(b);
        const expected = hex(node.agree(pubB, a).sharedSecret);
        for (const backend of both) {
          const ab = backend.agree(pubB, a);
          const ba = backend.agree(pubA, b);
          expect(hex(ab.publicKey)).toBe(hex(pubA));
          expect(hex(ba.publicKey)).toBe(hex(pubB));
          expect(ab.sharedSecret.length).toBe(32);
          expect(hex(ab.sharedSecret)).toBe(expected);
          expect(hex(ba.sharedSecret)).toBe(expected);
        }
      }),
      { numRuns: 50 },
    );
  });

  it('a fresh random key on one backend gives the secret the other computes', () => {
    fc.assert(
      fc.property(scalar, fc.boolean(), (b, nodeFirst) => {
        const [first, second] = nodeFirst ? [node, noble] : [noble, node];
        const pubB = publicPoint(b);
        const fresh = first.agree(pubB);
        expect(fresh.publicKey[0]).toBe(4);
        expect(hex(second.agree(fresh.publicKey, b).sharedSecret)).toBe(hex(fresh.sharedSecret));
      }),
      { numRuns: 30 },
    );
  });

  const P = publicPoint(scalarBytes(0xc0ffeen));
  const flipLastByte = P.slice();
  flipLastByte[64]! ^= 1;
  const withPrefix = (p: number): Uint8Array => Uint8Array.from([p, ...P.subarray(1)]);
  const xTooBig = Uint8Array.from([4, ...new Uint8Array(32).fill(0xff), ...P.subarray(33)]);
  const refused: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['point at infinity (single 0x00)', new Uint8Array([0])],
    ['64 bytes (X || Y without prefix)', P.subarray(1)],
    ['66 bytes (trailing 00)', Uint8Array.from([...P, 0])],
    ['33 bytes (compressed form of a valid point)', Uint8Array.from([2 + (P[64]! & 1), ...P.subarray(1, 33)])],
    ['65 bytes with prefix 0x02', withPrefix(0x02)],
    ['65 bytes with prefix 0x03', withPrefix(0x03)],
    ['65 bytes with prefix 0x05', withPrefix(0x05)],
    ['65 bytes with prefix 0x06 (hybrid)', withPrefix(0x06)],
    ['65 bytes with prefix 0x07 (hybrid)', withPrefix(0x07)],
    ['all-zero 65 bytes', new Uint8Array(65)],
    ['04 || zeros (0, 0)', Uint8Array.from([4, ...new Uint8Array(64)])],
    ['not on the curve (last byte of y flipped)', flipLastByte],
    ['x >= p', xTooBig],
  ];

  it.each(refused)('peer point refused by both with InvalidKeyError: %s', (_name, point) => {
    for (const backend of both) {
      expect(() => backend.agree(point, scalarBytes(5n))).toThrow(InvalidKeyError);
      expect(() => backend.agree(point)).toThrow(InvalidKeyError);
    }
  });

  it('private scalars out of range or of the wrong length are refused by both', () => {
    const bad = [0n, N, N + 1n, 2n ** 256n - 1n].map(scalarBytes);
    bad.push(new Uint8Array(31).fill(1), new Uint8Array(33).fill(1), new Uint8Array(0));
    for (const backend of both) {
      for (const k of bad) expect(() => backend.agree(G, k)).toThrow(InvalidKeyError);
    }
  });

  it('random 04-prefixed 65-byte strings: both refuse or both give the same secret', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), scalar, (xy, k) => {
        const point = Uint8Array.from([4, ...xy]);
        const outcome = (backend: CryptoBackend): string => {
          try {
            return hex(backend.agree(point, k).sharedSecret);
          } catch (e) {
            expect(e).toBeInstanceOf(InvalidKeyError);
            return 'refused';
          }
        };
        expect(outcome(noble)).toBe(outcome(node));
      }),
      { numRuns: 50 },
    );
  });
});

describe('HKDF-SHA256: node and noble agree', () => {
  const bytes = fc.uint8Array({ maxLength: 100 });

  it('identical output for random ikm, salt (including empty), info and length', () => {
    fc.assert(
      fc.property(bytes, bytes, bytes, fc.integer({ min: 0, max: 8160 }), (ikm, salt, info, len) => {
        const a = node.hkdf(ikm, salt, info, len);
        expect(a.length).toBe(len);
        expect(hex(noble.hkdf(ikm, salt, info, len))).toBe(hex(a));
      }),
      { numRuns: 50 },
    );
  });

  it('an empty salt is HashLen zero bytes (RFC 5869 §2.2) on both', () => {
    fc.assert(
      fc.property(bytes, bytes, fc.integer({ min: 1, max: 64 }), (ikm, info, len) => {
        for (const backend of both) {
          const empty = backend.hkdf(ikm, new Uint8Array(0), info, len);
          expect(hex(backend.hkdf(ikm, new Uint8Array(32), info, len))).toBe(hex(empty));
        }
      }),
    );
  });

  it('lengths over 255 * 32 = 8160 (or not a whole number) throw a clear error on both', () => {
    for (const backend of both) {
      for (const len of [8161, 100_000, -1, 1.5, Number.NaN]) {
        expect(() => backend.hkdf(new Uint8Array(16), new Uint8Array(0), new Uint8Array(0), len)).toThrow(
          ArkE2EEError,
        );
      }
      expect(() => backend.hkdf(new Uint8Array(1), new Uint8Array(0), new Uint8Array(0), 8161)).toThrow(
        /8160/,
      );
    }
  });
});

describe('encryptBlock', () => {
  it('is identical on both and equals AES-ECB of node:crypto', () => {
    fc.assert(
      fc.property(aesKey, fc.uint8Array({ minLength: 16, maxLength: 16 }), (key, block) => {
        const expected = hex(aesEcb(key, block));
        expect(hex(node.encryptBlock(key, block))).toBe(expected);
        expect(hex(noble.encryptBlock(key, block))).toBe(expected);
      }),
    );
  });

  it('matches the FIPS-197 C.3 AES-256 example', () => {
    const key = fromHex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
    const block = fromHex('00112233445566778899aabbccddeeff');
    for (const backend of both) {
      expect(hex(backend.encryptBlock(key, block))).toBe('8ea2b7ca516745bfeafc49904b496089');
    }
  });
});

describe('resolveBackend', () => {
  it("'auto' is node where node:crypto exists, 'noble' and 'node' are themselves", () => {
    expect(resolveBackend('auto').name).toBe('node');
    expect(resolveBackend().name).toBe('node');
    expect(resolveBackend('node').name).toBe('node');
    expect(resolveBackend('noble').name).toBe('noble');
    expect(resolveBackend(noble)).toBe(noble);
  });
});
