/**
 * The few primitives the protocol needs (protocol §2, §3), behind one small interface so that
 * the same protocol code runs on `node:crypto` (fast, OpenSSL) or on noble (any JS runtime).
 * Both implementations must give identical bytes for identical inputs.
 */

export type BackendName = 'node' | 'noble';
export type BackendChoice = BackendName | 'auto' | CryptoBackend;

/** The result of one ephemeral ECDH: our public point and the shared x coordinate. */
export interface KeyAgreement {
  /** Uncompressed point `04 || X || Y`, 65 bytes. */
  readonly publicKey: Uint8Array;
  /** x coordinate of the shared point, 32 bytes big-endian (protocol §2 step 1). */
  readonly sharedSecret: Uint8Array;
}

export interface CryptoBackend {
  readonly name: BackendName;
  /**
   * ECDH on P-256 with a fresh random key, or with `privateKey` (32-byte big-endian scalar)
   * when given. Throws `InvalidKeyError` for a peer point that is not a valid uncompressed
   * point on the curve (wrong length, infinity, off the curve) or a scalar out of range.
   */
  agree(peerPublicKey: Uint8Array, privateKey?: Uint8Array): KeyAgreement;
  /** HKDF-SHA256 (RFC 5869); an empty salt is HashLen zero bytes (RFC 5869 §2.2). */
  hkdf(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array;
  /** AES-GCM: `ciphertext || 16-byte tag`. Key of 16, 24 or 32 bytes. */
  seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Uint8Array;
  /** AES-GCM open; `undefined` when the tag does not authenticate (never throws for that). */
  open(
    key: Uint8Array,
    nonce: Uint8Array,
    sealed: Uint8Array,
    aad?: Uint8Array,
  ): Uint8Array | undefined;
  /** AES encryption of one 16-byte block, for GCM's hash key H and E(K, J0). */
  encryptBlock(key: Uint8Array, block: Uint8Array): Uint8Array;
  /**
   * Optional fast path for large texts: `base64(seal(key, nonce, UTF-8(text)))` without the
   * intermediate copies (the UTF-8 bytes, `ciphertext || tag` joined). Same result exactly.
   */
  sealTextToBase64?(key: Uint8Array, nonce: Uint8Array, text: string): string;
}

export const GCM_TAG_LENGTH = 16;
export const P256_POINT_LENGTH = 65;
export const P256_SCALAR_LENGTH = 32;
