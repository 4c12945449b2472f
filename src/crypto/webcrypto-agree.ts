/**
 * The handshake's ECDH on P-256 and its HKDF-SHA256 (protocol §2) on WebCrypto (`crypto.subtle`):
 * native code in every browser and edge runtime, asynchronous, and no curve code to ship. Same
 * bytes as `CryptoBackend.agree` and `.hkdf` (test/crypto/webcrypto-agree.test.ts checks them
 * against both backends and the vectors), and the same refusals with the same `InvalidKeyError`
 * messages.
 */
import { ArkE2EEError, InvalidKeyError } from '../errors.js';
import { assertHkdfLength, assertUncompressedPoint, NOT_ON_CURVE, P256_POINT_LENGTH, type KeyAgreement } from './backend.js';

/** A WebCrypto key: opaque here. */
export type WebCryptoKey = object;

/** An ephemeral ECDH key pair as WebCrypto holds it. */
export interface WebCryptoKeyPair {
  readonly privateKey: WebCryptoKey;
  readonly publicKey: WebCryptoKey;
}

const ECDH_P256 = { name: 'ECDH', namedCurve: 'P-256' } as const;

/** The part of `SubtleCrypto` this file uses. */
export interface AgreementSubtle {
  generateKey(algorithm: typeof ECDH_P256, extractable: boolean, usages: readonly ['deriveBits']): Promise<WebCryptoKeyPair>;
  importKey(
    format: 'raw',
    keyData: Uint8Array,
    algorithm: typeof ECDH_P256 | 'HKDF',
    extractable: false,
    usages: readonly [] | readonly ['deriveBits'],
  ): Promise<WebCryptoKey>;
  exportKey(format: 'raw', key: WebCryptoKey): Promise<ArrayBuffer>;
  deriveBits(
    algorithm:
      | { name: 'ECDH'; public: WebCryptoKey }
      | { name: 'HKDF'; hash: 'SHA-256'; salt: Uint8Array; info: Uint8Array },
    baseKey: WebCryptoKey,
    length: number,
  ): Promise<ArrayBuffer>;
}

/** The runtime's WebCrypto, or `undefined` where it has none (a page on plain http has none). */
export function agreementSubtle(): AgreementSubtle | undefined {
  return (globalThis as { crypto?: { subtle?: AgreementSubtle } }).crypto?.subtle;
}

/**
 * ECDH of a fresh ephemeral key (or `ephemeral`, for tests) with `peerPublicKey`. A peer key
 * WebCrypto refuses (off the curve, a coordinate not below p) is `InvalidKeyError`, as on the
 * other backends; the encoding is checked before WebCrypto sees it.
 */
export async function webCryptoAgree(
  subtle: AgreementSubtle,
  peerPublicKey: Uint8Array,
  ephemeral?: WebCryptoKeyPair,
): Promise<KeyAgreement> {
  assertUncompressedPoint(peerPublicKey);
  let peer: WebCryptoKey;
  try {
    // Stryker disable next-line BooleanLiteral: the peer's key is only passed to deriveBits, which does not read its extractable flag, and never exported
    peer = await subtle.importKey('raw', peerPublicKey, ECDH_P256, false, []);
  } catch {
    throw new InvalidKeyError(NOT_ON_CURVE);
  }
  // Not extractable: only its public half (always exportable) leaves WebCrypto.
  const pair = ephemeral ?? (await subtle.generateKey(ECDH_P256, false, ['deriveBits']));
  let shared: ArrayBuffer;
  try {
    shared = await subtle.deriveBits({ name: 'ECDH', public: peer }, pair.privateKey, 256);
  } catch {
    // An implementation that validates the point only here refuses it here.
    throw new InvalidKeyError(NOT_ON_CURVE);
  }
  const publicKey = new Uint8Array(await subtle.exportKey('raw', pair.publicKey));
  if (publicKey.length !== P256_POINT_LENGTH || publicKey[0] !== 0x04 || shared.byteLength !== 32) {
    throw new ArkE2EEError('WebCrypto gave an ECDH result of an unexpected form; use backend: \'noble\'');
  }
  return { publicKey, sharedSecret: new Uint8Array(shared) };
}

/**
 * HKDF-SHA256 (RFC 5869) of `length` bytes, a whole number from 1 to 8160 (WebCrypto derives
 * whole bytes only, and at least one).
 */
export async function webCryptoHkdf(
  subtle: AgreementSubtle,
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Promise<Uint8Array> {
  assertHkdfLength(length, 1);
  const key = await subtle.importKey('raw', ikm, 'HKDF', false, ['deriveBits']);
  return new Uint8Array(await subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt, info }, key, length * 8));
}
