/**
 * What the crypto backends say when they refuse (mutation testing, issue 16): the error class,
 * its `code` and the message that tells the caller what was wrong, on node:crypto and on noble
 * alike, and the inputs right at each bound that must still be taken.
 */
import { describe, expect, it } from 'vitest';
import type { CryptoBackend } from '../../src/crypto/backend.js';
import nodeCrypto from 'node:crypto';
import { createNodeBackend } from '../../src/crypto/node.js';
import { nobleBackend } from '../../src/crypto/noble.js';
import { ArkE2EEError, InvalidKeyError } from '../../src/errors.js';

const node = createNodeBackend(nodeCrypto);
const BACKENDS: CryptoBackend[] = [node, nobleBackend];

/** The error `run` throws (the test fails if it throws none). */
function thrown(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw, got none');
}

const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const scalarBytes = (k: bigint): Uint8Array => Uint8Array.from(Buffer.from(k.toString(16).padStart(64, '0'), 'hex'));
/** The P-256 base point, uncompressed (SEC 2 §2.4.2). */
const G = Uint8Array.from(
  Buffer.from(
    '046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296' +
      '4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5',
    'hex',
  ),
);

describe.each(BACKENDS)('$name backend', (backend) => {
  const peer = node.agree(G, scalarBytes(7n)).publicKey; // 7·G

  it.each([
    ['0 bytes', new Uint8Array(0)],
    ['64 bytes', new Uint8Array(64).fill(4)],
    ['66 bytes', new Uint8Array(66).fill(4)],
  ])('a peer key of %s: InvalidKeyError naming the form wanted and the length got', (got, point) => {
    const error = thrown(() => backend.agree(point, scalarBytes(5n)));
    expect(error).toBeInstanceOf(InvalidKeyError);
    expect((error as InvalidKeyError).code).toBe('ERR_ARK_E2EE_INVALID_KEY');
    expect(error.message).toBe(`peer public key must be a 65-byte uncompressed P-256 point (04 || X || Y), got ${got}`);
  });

  it.each([0x00, 0x02, 0x03, 0x06, 0x14, 0xff])('a 65-byte peer key with prefix %i: the prefix in two hex digits', (prefix) => {
    const point = Uint8Array.from([prefix, ...peer.subarray(1)]);
    const error = thrown(() => backend.agree(point));
    expect(error).toBeInstanceOf(InvalidKeyError);
    expect(error.message).toBe(
      `peer public key must be a 65-byte uncompressed P-256 point (04 || X || Y), got prefix 0x${prefix.toString(16).padStart(2, '0')}`,
    );
  });

  it('a point off the curve: InvalidKeyError "not a valid point on P-256"', () => {
    const off = peer.slice();
    off[64]! ^= 1;
    const error = thrown(() => backend.agree(off, scalarBytes(5n)));
    expect(error).toBeInstanceOf(InvalidKeyError);
    expect((error as InvalidKeyError).code).toBe('ERR_ARK_E2EE_INVALID_KEY');
    expect(error.message).toBe('peer public key is not a valid point on P-256');
  });

  it.each([
    ['zero', scalarBytes(0n)],
    ['n', scalarBytes(N)],
    ['31 bytes', new Uint8Array(31).fill(1)],
    ['33 bytes', new Uint8Array(33).fill(1)],
  ])('a private key that is %s: InvalidKeyError with the range wanted', (_name, key) => {
    const error = thrown(() => backend.agree(peer, key));
    expect(error).toBeInstanceOf(InvalidKeyError);
    expect(error.message).toBe('private key must be a 32-byte P-256 scalar in [1, n-1]');
  });

  it('the scalars at the ends of the range, 1 and n - 1, are taken', () => {
    for (const k of [1n, N - 1n]) {
      const result = backend.agree(peer, scalarBytes(k));
      expect(result.publicKey.length).toBe(65);
      expect(result.sharedSecret).toEqual(node.agree(peer, scalarBytes(k)).sharedSecret);
    }
  });

  it.each([8161, -1, 1.5, Number.NaN])('an HKDF length of %d: ArkE2EEError giving the range and the length', (length) => {
    const error = thrown(() => backend.hkdf(new Uint8Array(16), new Uint8Array(0), new Uint8Array(0), length));
    expect(error).toBeInstanceOf(ArkE2EEError);
    expect((error as ArkE2EEError).code).toBe('ERR_ARK_E2EE');
    expect(error.message).toBe(`HKDF-SHA256 output length must be an integer from 0 to 8160 bytes, got ${length}`);
  });

  it('HKDF lengths 0 and 8160, the ends of the range, are taken', () => {
    expect(backend.hkdf(new Uint8Array(16), new Uint8Array(0), new Uint8Array(0), 0).length).toBe(0);
    expect(backend.hkdf(new Uint8Array(16), new Uint8Array(0), new Uint8Array(0), 8160).length).toBe(8160);
  });

  it('seal and open with additional data: it is authenticated, and its absence is not its emptiness', () => {
    const key = new Uint8Array(32).fill(9);
    const nonce = new Uint8Array(12).fill(1);
    const aad = new Uint8Array([1, 2, 3]);
    const sealed = backend.seal(key, nonce, new Uint8Array([5, 6]), aad);
    expect(backend.open(key, nonce, sealed, aad)).toEqual(new Uint8Array([5, 6]));
    expect(backend.open(key, nonce, sealed)).toBeUndefined();
    expect(backend.open(key, nonce, sealed, new Uint8Array([1, 2, 4]))).toBeUndefined();
    expect(sealed).toEqual(node.seal(key, nonce, new Uint8Array([5, 6]), aad));
  });

  it('a bare 16-byte tag opens to empty; 15 bytes open to nothing', () => {
    const key = new Uint8Array(32).fill(2);
    const nonce = new Uint8Array(12).fill(3);
    const tag = backend.seal(key, nonce, new Uint8Array(0));
    expect(backend.open(key, nonce, tag)).toEqual(new Uint8Array(0));
    expect(backend.open(key, nonce, tag.subarray(1))).toBeUndefined();
  });
});

describe('node backend: AES key lengths', () => {
  it.each([0, 15, 20, 33])('a %i-byte key: InvalidKeyError naming the lengths AES takes', (length) => {
    const key = new Uint8Array(length);
    const nonce = new Uint8Array(12);
    for (const run of [
      () => node.seal(key, nonce, new Uint8Array(1)),
      () => node.open(key, nonce, new Uint8Array(17)),
      () => node.sealTextToBase64!(key, nonce, 'x'),
    ]) {
      const error = thrown(run);
      expect(error).toBeInstanceOf(InvalidKeyError);
      expect((error as InvalidKeyError).code).toBe('ERR_ARK_E2EE_INVALID_KEY');
      expect(error.message).toBe(`AES key must be 16, 24 or 32 bytes, got ${length}`);
    }
  });

  it.each([16, 24, 32])('a %i-byte key is taken by seal, open and sealTextToBase64', (length) => {
    const key = new Uint8Array(length).fill(1);
    const nonce = new Uint8Array(12);
    const sealed = node.seal(key, nonce, new TextEncoder().encode('hé'));
    expect(node.open(key, nonce, sealed)).toEqual(new TextEncoder().encode('hé'));
    expect(node.sealTextToBase64!(key, nonce, 'hé')).toBe(Buffer.from(sealed).toString('base64'));
    expect(sealed).toEqual(nobleBackend.seal(key, nonce, new TextEncoder().encode('hé')));
  });
});
