/**
 * The few primitives the protocol needs (protocol §2, §3), behind one small interface so that
 * the same protocol code runs on `node:crypto` (fast, OpenSSL) or on noble (any JS runtime).
 * Both implementations must give identical bytes for identical inputs.
 */
import { ArkE2EEError, InvalidKeyError } from '../errors.js';

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
/** RFC 5869 §2.3: L <= 255 * HashLen, i.e. 8160 bytes for SHA-256. */
export const HKDF_SHA256_MAX_LENGTH = 255 * 32;

/**
 * Refuses an HKDF-SHA256 output length that is not a whole number from `least` to 8160 bytes
 * (RFC 5869 §2.3). `least` is 1 on WebCrypto, which derives at least one byte.
 */
export function assertHkdfLength(length: number, least = 0): void {
  if (Number.isInteger(length) && length >= least && length <= HKDF_SHA256_MAX_LENGTH) return;
  throw new ArkE2EEError(
    `HKDF-SHA256 output length must be an integer from ${least} to ${HKDF_SHA256_MAX_LENGTH} bytes, got ${length}`,
  );
}

/**
 * Refuses, with `InvalidKeyError`, a peer key that is not 65 bytes starting with 0x04: the
 * protocol's only form (§2). Every backend checks this first, so that each refuses compressed,
 * hybrid and truncated encodings alike and says so in the same words.
 */
export function assertUncompressedPoint(point: Uint8Array): void {
  if (point.length === P256_POINT_LENGTH && point[0] === 0x04) return;
  const got =
    point.length === P256_POINT_LENGTH
      ? `prefix 0x${(point[0] ?? 0).toString(16).padStart(2, '0')}`
      : `${point.length} bytes`;
  throw new InvalidKeyError(`peer public key must be a 65-byte uncompressed P-256 point (04 || X || Y), got ${got}`);
}

/** What every backend says of a peer key that is well formed but not a point of P-256. */
export const NOT_ON_CURVE = 'peer public key is not a valid point on P-256';
/** What every backend says of an ephemeral scalar it cannot use. */
export const BAD_SCALAR = 'private key must be a 32-byte P-256 scalar in [1, n-1]';

/** `backend: 'node'` where `#crypto/native` has no node:crypto backend. */
export function nodeBackendMissing(): ArkE2EEError {
  return new ArkE2EEError(
    "backend 'node' needs node:crypto, which this runtime (or this bundle's import conditions) does not have; " +
      "use 'noble' or 'auto'",
  );
}
