/**
 * The `node:crypto` (OpenSSL) backend: the fast path wherever Node's crypto module exists.
 * Reached only through `#crypto/native` under the `node` condition (native-node.ts), so that
 * bundles for browsers and edge runtimes do not pull it in.
 */
import type * as NodeCrypto from 'node:crypto';
import { InvalidKeyError } from '../errors.js';
import {
  assertHkdfLength,
  assertUncompressedPoint,
  BAD_SCALAR,
  GCM_TAG_LENGTH,
  NOT_ON_CURVE,
  P256_SCALAR_LENGTH,
  type CryptoBackend,
  type KeyAgreement,
} from './backend.js';

const CURVE = 'prime256v1';

function gcmAlgorithm(key: Uint8Array): NodeCrypto.CipherGCMTypes {
  if (key.length !== 16 && key.length !== 24 && key.length !== 32) {
    throw new InvalidKeyError(`AES key must be 16, 24 or 32 bytes, got ${key.length}`);
  }
  return `aes-${key.length * 8}-gcm` as NodeCrypto.CipherGCMTypes;
}

export function createNodeBackend(crypto: typeof NodeCrypto): CryptoBackend {
  return {
    name: 'node',

    agree(peerPublicKey, privateKey): KeyAgreement {
      // Only the uncompressed form is part of the protocol (§2): OpenSSL would also take the
      // compressed and hybrid encodings.
      assertUncompressedPoint(peerPublicKey);
      const ecdh = crypto.createECDH(CURVE);
      let publicKey: Buffer;
      try {
        // generateKeys returns the public point already: asking for it again costs ~5% more.
        if (privateKey === undefined) publicKey = ecdh.generateKeys();
        else {
          if (privateKey.length !== P256_SCALAR_LENGTH) throw new Error('length');
          ecdh.setPrivateKey(privateKey);
          publicKey = ecdh.getPublicKey();
        }
      } catch {
        throw new InvalidKeyError(BAD_SCALAR);
      }
      let shared: Buffer;
      try {
        shared = ecdh.computeSecret(peerPublicKey);
      } catch {
        throw new InvalidKeyError(NOT_ON_CURVE);
      }
      return { publicKey: new Uint8Array(publicKey), sharedSecret: new Uint8Array(shared) };
    },

    hkdf(ikm, salt, info, length) {
      assertHkdfLength(length);
      // RFC 5869 §2.2–2.3 on node's HMAC: hkdfSync makes a KeyObject and an EVP context on every
      // call, ~2× the time of these two or three HMACs (one per request, beside its ECDH). An
      // empty salt is an HMAC key of no bytes, the same as HashLen zeros (§2.2, RFC 2104 §2).
      const prk = crypto.createHmac('sha256', salt).update(ikm).digest();
      const out = new Uint8Array(length);
      let block: Uint8Array = new Uint8Array(0);
      for (let counter = 1, written = 0; written < length; counter++) {
        block = crypto.createHmac('sha256', prk).update(block).update(info).update(Uint8Array.of(counter)).digest();
        out.set(block.subarray(0, length - written), written);
        written += block.length;
      }
      return out;
    },

    seal(key, nonce, plaintext, aad) {
      const cipher = crypto.createCipheriv(gcmAlgorithm(key), key, nonce, {
        authTagLength: GCM_TAG_LENGTH,
      });
      if (aad !== undefined) cipher.setAAD(aad);
      const head = cipher.update(plaintext);
      const tail = cipher.final();
      // Buffer.concat: one copy into memory it need not zero first.
      const out = Buffer.concat([head, tail, cipher.getAuthTag()]);
      return new Uint8Array(out.buffer, out.byteOffset, out.length);
    },

    sealTextToBase64(key, nonce, text) {
      // The text goes to OpenSSL as a string: Node converts it to UTF-8 in a transient buffer,
      // so no JS-visible copy of a large image is made, nor one of the ciphertext and tag joined.
      const cipher = crypto.createCipheriv(gcmAlgorithm(key), key, nonce, {
        authTagLength: GCM_TAG_LENGTH,
      });
      const head = cipher.update(text, 'utf8');
      cipher.final(); // GCM emits nothing here: it has no padding and no buffered block
      const tag = cipher.getAuthTag();
      // base64(head || tag) = base64 of head's whole 3-byte groups, then base64 of the rest.
      const whole = head.length - (head.length % 3);
      const rest = whole === head.length ? tag : Buffer.concat([head.subarray(whole), tag]);
      return head.toString('base64', 0, whole) + rest.toString('base64');
    },

    open(key, nonce, sealed, aad) {
      if (sealed.length < GCM_TAG_LENGTH) return undefined;
      const tagStart = sealed.length - GCM_TAG_LENGTH;
      const decipher = crypto.createDecipheriv(gcmAlgorithm(key), key, nonce, {
        authTagLength: GCM_TAG_LENGTH,
      });
      decipher.setAuthTag(sealed.subarray(tagStart));
      if (aad !== undefined) decipher.setAAD(aad);
      const head = decipher.update(sealed.subarray(0, tagStart));
      try {
        decipher.final(); // checks the tag; GCM emits nothing here (no padding, no buffered block)
      } catch {
        return undefined;
      }
      return new Uint8Array(head.buffer, head.byteOffset, head.length);
    },

    encryptBlock(key, block) {
      const cipher = crypto.createCipheriv(`aes-${key.length * 8}-ecb`, key, null);
      // Stryker disable next-line BooleanLiteral: update() of one whole block gives its encryption either way; padding would show only in final(), never called
      cipher.setAutoPadding(false);
      return new Uint8Array(cipher.update(block));
    },
  };
}
