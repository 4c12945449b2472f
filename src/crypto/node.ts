/**
 * The `node:crypto` (OpenSSL) backend: the fast path wherever Node's crypto module exists.
 * The module is reached through `process.getBuiltinModule`, never a static `node:` import, so
 * that bundles for browsers and edge runtimes do not pull it in.
 */
import type * as NodeCrypto from 'node:crypto';
import { ArkE2EEError, InvalidKeyError } from '../errors.js';
import {
  GCM_TAG_LENGTH,
  P256_POINT_LENGTH,
  P256_SCALAR_LENGTH,
  type CryptoBackend,
  type KeyAgreement,
} from './backend.js';

interface ProcessWithBuiltins {
  getBuiltinModule?: (id: string) => unknown;
}

/** `node:crypto` when this runtime has it, else `undefined`. */
export function loadNodeCrypto(): typeof NodeCrypto | undefined {
  const proc = (globalThis as { process?: ProcessWithBuiltins }).process;
  try {
    return proc?.getBuiltinModule?.('node:crypto') as typeof NodeCrypto | undefined;
  } catch {
    return undefined;
  }
}

const CURVE = 'prime256v1';

function gcmAlgorithm(key: Uint8Array): NodeCrypto.CipherGCMTypes {
  if (key.length !== 16 && key.length !== 24 && key.length !== 32) {
    throw new InvalidKeyError(`AES key must be 16, 24 or 32 bytes, got ${key.length}`);
  }
  return `aes-${key.length * 8}-gcm` as NodeCrypto.CipherGCMTypes;
}

function checkPeerPoint(point: Uint8Array): void {
  // Only the uncompressed form is part of the protocol (§2): refuse anything else up front
  // (OpenSSL would otherwise also take compressed and hybrid encodings).
  if (point.length !== P256_POINT_LENGTH || point[0] !== 0x04) {
    const got =
      point.length === P256_POINT_LENGTH
        ? `prefix 0x${(point[0] ?? 0).toString(16).padStart(2, '0')}`
        : `${point.length} bytes`;
    throw new InvalidKeyError(
      `peer public key must be a 65-byte uncompressed P-256 point (04 || X || Y), got ${got}`,
    );
  }
}

/** RFC 5869 §2.3: L <= 255 * HashLen, i.e. 8160 bytes for SHA-256. */
const HKDF_SHA256_MAX_LENGTH = 255 * 32;

function checkHkdfLength(length: number): void {
  if (!Number.isInteger(length) || length < 0 || length > HKDF_SHA256_MAX_LENGTH) {
    throw new ArkE2EEError(
      `HKDF-SHA256 output length must be an integer from 0 to ${HKDF_SHA256_MAX_LENGTH} bytes, got ${length}`,
    );
  }
}

export function createNodeBackend(crypto: typeof NodeCrypto): CryptoBackend {
  return {
    name: 'node',

    agree(peerPublicKey, privateKey): KeyAgreement {
      checkPeerPoint(peerPublicKey);
      const ecdh = crypto.createECDH(CURVE);
      try {
        if (privateKey === undefined) ecdh.generateKeys();
        else {
          if (privateKey.length !== P256_SCALAR_LENGTH) throw new Error('length');
          ecdh.setPrivateKey(privateKey);
        }
      } catch {
        throw new InvalidKeyError('private key must be a 32-byte P-256 scalar in [1, n-1]');
      }
      let shared: Buffer;
      try {
        shared = ecdh.computeSecret(peerPublicKey);
      } catch {
        throw new InvalidKeyError('peer public key is not a valid point on P-256');
      }
      return { publicKey: new Uint8Array(ecdh.getPublicKey()), sharedSecret: new Uint8Array(shared) };
    },

    hkdf(ikm, salt, info, length) {
      checkHkdfLength(length);
      return new Uint8Array(crypto.hkdfSync('sha256', ikm, salt, info, length));
    },

    seal(key, nonce, plaintext, aad) {
      const cipher = crypto.createCipheriv(gcmAlgorithm(key), key, nonce, {
        authTagLength: GCM_TAG_LENGTH,
      });
      if (aad !== undefined) cipher.setAAD(aad);
      const head = cipher.update(plaintext);
      const tail = cipher.final();
      const out = new Uint8Array(head.length + tail.length + GCM_TAG_LENGTH);
      out.set(head, 0);
      out.set(tail, head.length);
      out.set(cipher.getAuthTag(), head.length + tail.length);
      return out;
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
        const tail = decipher.final();
        if (tail.length === 0) return new Uint8Array(head.buffer, head.byteOffset, head.length);
        const out = new Uint8Array(head.length + tail.length);
        out.set(head, 0);
        out.set(tail, head.length);
        return out;
      } catch {
        return undefined;
      }
    },

    encryptBlock(key, block) {
      const cipher = crypto.createCipheriv(`aes-${key.length * 8}-ecb`, key, null);
      cipher.setAutoPadding(false);
      return new Uint8Array(cipher.update(block));
    },
  };
}
