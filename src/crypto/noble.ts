/**
 * The noble backend: audited pure-JavaScript primitives that run on any runtime
 * (browsers, edge functions, Deno, Bun) with no native code.
 */
import { ecb, gcm } from '@noble/ciphers/aes.js';
import { p256 } from '@noble/curves/nist.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { ArkE2EEError, InvalidKeyError } from '../errors.js';
import {
  GCM_TAG_LENGTH,
  P256_POINT_LENGTH,
  P256_SCALAR_LENGTH,
  type CryptoBackend,
  type KeyAgreement,
} from './backend.js';

/** RFC 5869 §2.3: L <= 255 * HashLen, i.e. 8160 bytes for SHA-256. */
const HKDF_SHA256_MAX_LENGTH = 255 * 32;

export const nobleBackend: CryptoBackend = {
  name: 'noble',

  agree(peerPublicKey, privateKey): KeyAgreement {
    if (peerPublicKey.length !== P256_POINT_LENGTH || peerPublicKey[0] !== 0x04) {
      const got =
        peerPublicKey.length === P256_POINT_LENGTH
          ? `prefix 0x${(peerPublicKey[0] ?? 0).toString(16).padStart(2, '0')}`
          : `${peerPublicKey.length} bytes`;
      throw new InvalidKeyError(
        `peer public key must be a 65-byte uncompressed P-256 point (04 || X || Y), got ${got}`,
      );
    }
    const secret = privateKey ?? p256.utils.randomSecretKey();
    if (secret.length !== P256_SCALAR_LENGTH || !p256.utils.isValidSecretKey(secret)) {
      throw new InvalidKeyError('private key must be a 32-byte P-256 scalar in [1, n-1]');
    }
    let shared: Uint8Array;
    try {
      // getSharedSecret validates the peer point (on the curve, not infinity) before use.
      shared = p256.getSharedSecret(secret, peerPublicKey, true);
    } catch {
      throw new InvalidKeyError('peer public key is not a valid point on P-256');
    }
    return { publicKey: p256.getPublicKey(secret, false), sharedSecret: shared.subarray(1) };
  },

  hkdf(ikm, salt, info, length) {
    if (!Number.isInteger(length) || length < 0 || length > HKDF_SHA256_MAX_LENGTH) {
      throw new ArkE2EEError(
        `HKDF-SHA256 output length must be an integer from 0 to ${HKDF_SHA256_MAX_LENGTH} bytes, got ${length}`,
      );
    }
    return hkdf(sha256, ikm, salt, info, length);
  },

  seal(key, nonce, plaintext, aad) {
    return gcm(key, nonce, aad).encrypt(plaintext);
  },

  open(key, nonce, sealed, aad) {
    if (sealed.length < GCM_TAG_LENGTH) return undefined;
    try {
      return gcm(key, nonce, aad).decrypt(sealed);
    } catch {
      return undefined;
    }
  },

  encryptBlock(key, block) {
    return ecb(key, { disablePadding: true }).encrypt(block);
  },
};
