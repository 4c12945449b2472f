/**
 * The performance paths must give exactly what the plain paths give (docs/performance.md):
 * the node backend's one-pass text sealing, the session's short-ciphertext opener (JS GHASH and
 * a shared key stream, used once a session has opened many), and noble's per-peer tables.
 */
import { createCipheriv } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import nodeCrypto from 'node:crypto';
import { createNodeBackend } from '../../src/crypto/node.js';
import { nobleBackend } from '../../src/crypto/noble.js';
import { DecryptionFailedError } from '../../src/errors.js';
import { encodeBase64 } from '../../src/crypto/base64.js';
import { decryptPieces } from '../../src/protocol/pieces.js';
import { sessionFromKey } from '../../src/protocol/create-session.js';
import { serverEncrypt } from '../helpers/server-crypto.js';

const node = createNodeBackend(nodeCrypto);
const KEY = new Uint8Array(32).map((_, i) => (i * 7 + 1) & 0xff);
const NONCE = new Uint8Array(12).map((_, i) => 200 - i);

describe('node backend: sealTextToBase64', () => {
  it('is base64(seal(UTF-8(text))) for any text, whatever its length mod 3', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: 'binary', maxLength: 64 }), fc.string({ unit: 'grapheme', maxLength: 64 })),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        (text, key, nonce) => {
          const expected = encodeBase64(node.seal(key, nonce, new TextEncoder().encode(text)));
          expect(node.sealTextToBase64!(key, nonce, text)).toBe(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('agrees on large texts and on lone surrogates (both become U+FFFD)', () => {
    for (const text of ['x'.repeat(300_001), 'y'.repeat(300_002), 'z'.repeat(300_003), 'a\ud800b', '\udfff']) {
      expect(node.sealTextToBase64!(KEY, NONCE, text)).toBe(encodeBase64(node.seal(KEY, NONCE, new TextEncoder().encode(text))));
    }
  });
});

describe.each([node, nobleBackend])('one session opening many short ciphertexts, $name backend', (backend) => {
  it('opens every one, before and after it switches to its own opener', () => {
    const session = sessionFromKey(KEY, NONCE, { backend });
    const texts = fc.sample(fc.string({ unit: 'grapheme', maxLength: 30 }), { numRuns: 200, seed: 7 });
    for (const text of texts) expect(decryptPieces(serverEncrypt(KEY, NONCE, text), session)).toBe(text);
  });

  it('refuses a changed, cut or foreign ciphertext, before and after the switch', () => {
    const session = sessionFromKey(KEY, NONCE, { backend });
    const foreign = serverEncrypt(new Uint8Array(32), NONCE, 'intruder');
    for (let i = 0; i < 40; i++) {
      const sealed = serverEncrypt(KEY, NONCE, `chunk ${i} 你好`);
      const bytes = Buffer.from(sealed, 'base64');
      bytes[i % bytes.length]! ^= 1 << (i % 8);
      const changed = bytes.toString('base64');
      const cut = Buffer.from(sealed, 'base64').subarray(0, 16 + (i % 4)).toString('base64');
      for (const bad of [changed, cut, foreign]) {
        expect(() => decryptPieces(bad, session)).toThrow(DecryptionFailedError);
      }
      expect(decryptPieces(sealed, session)).toBe(`chunk ${i} 你好`);
    }
  });
});

describe('pieces decoded in one go', () => {
  /** Seals raw bytes (which need not be UTF-8), as a misbehaving service could. */
  const sealBytes = (bytes: Uint8Array): string => {
    const cipher = createCipheriv('aes-256-gcm', KEY, NONCE);
    return Buffer.concat([cipher.update(bytes), cipher.final(), cipher.getAuthTag()]).toString('base64');
  };
  const session = sessionFromKey(KEY, NONCE);
  const zhong = Buffer.from('中'); // e4 b8 ad

  it('refuses a character split across two pieces, though the joined bytes are UTF-8', () => {
    for (const cut of [1, 2]) {
      const content = sealBytes(Buffer.from([0x61, ...zhong.subarray(0, cut)])) + sealBytes(zhong.subarray(cut));
      expect(() => decryptPieces(content, session)).toThrow(DecryptionFailedError);
    }
  });

  it('refuses a piece that is not UTF-8 anywhere in the run, and accepts empty pieces', () => {
    const good = [Buffer.from('ab'), Buffer.alloc(0), zhong, Buffer.from('😀')];
    expect(decryptPieces(good.map(sealBytes).join(''), session)).toBe('ab中😀');
    for (const bad of [Buffer.from([0xff]), Buffer.from([0xe4, 0xb8]), Buffer.from([0x80, 0x61])]) {
      for (const at of [0, 2, 4]) {
        const pieces = [...good];
        pieces.splice(at, 0, bad);
        expect(() => decryptPieces(pieces.map(sealBytes).join(''), session)).toThrow(DecryptionFailedError);
      }
    }
  });
});

describe('noble backend: a peer key met again', () => {
  it('gives node’s shared secret on every use, tables or not, as peers come and go', () => {
    const peers = Array.from({ length: 6 }, () => {
      const ecdh = nodeCrypto.createECDH('prime256v1');
      return new Uint8Array(ecdh.generateKeys());
    });
    const scalar = new Uint8Array(32).fill(0x11);
    // More peers than the cache keeps, each used three times (tables from the second use).
    for (let round = 0; round < 3; round++) {
      for (const peer of peers) {
        const expected = Buffer.from(node.agree(peer, scalar).sharedSecret).toString('hex');
        expect(Buffer.from(nobleBackend.agree(peer, scalar).sharedSecret).toString('hex')).toBe(expected);
      }
    }
    const peer = peers[0]!;
    for (let i = 0; i < 3; i++) {
      const expected = node.agree(peer, scalar);
      const got = nobleBackend.agree(peer, scalar);
      expect(Buffer.from(got.sharedSecret)).toEqual(Buffer.from(expected.sharedSecret));
      expect(Buffer.from(got.publicKey)).toEqual(Buffer.from(expected.publicKey));
    }
  });
});
