/**
 * noble's AES-GCM, the part of the noble backend every session needs for its texts (protocol
 * §3) and for the GCM boundary search, apart from the P-256 and HKDF code (noble.ts), which a
 * session whose key agreement ran on WebCrypto never needs: a browser bundle that only encrypts
 * requests loads the curve code on first use of `backend: 'noble'`, not before.
 */
import { ecb, gcm } from '@noble/ciphers/aes.js';
import type { CryptoBackend } from './backend.js';

export type Aead = Pick<CryptoBackend, 'seal' | 'open' | 'encryptBlock'>;

export const nobleAead: Aead = {
  seal(key, nonce, plaintext, aad) {
    return gcm(key, nonce, aad).encrypt(plaintext);
  },

  open(key, nonce, sealed, aad) {
    try {
      return gcm(key, nonce, aad).decrypt(sealed);
    } catch {
      // A tag that does not authenticate, or input shorter than a tag: not an error here.
    }
    return undefined;
  },

  encryptBlock(key, block) {
    return ecb(key, { disablePadding: true }).encrypt(block);
  },
};
