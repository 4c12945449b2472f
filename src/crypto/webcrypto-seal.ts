/**
 * AES-256-GCM sealing of one text on WebCrypto (`crypto.subtle`), for large texts (images)
 * outside Node: noble's AES-GCM runs at about 35 MB/s on the main thread, WebCrypto's native
 * code at hundreds of MB/s, off it. The bytes are those of `CryptoBackend.seal` (protocol §3):
 * `base64(AES-256-GCM(key, nonce, UTF-8(text)) || 16-byte tag)`, no additional data.
 */
import { ArkE2EEError } from '../errors.js';
import { encodeBase64 } from './base64.js';
import { GCM_TAG_LENGTH } from './backend.js';

interface Subtle {
  importKey(format: 'raw', key: Uint8Array, algorithm: 'AES-GCM', extractable: false, usages: ['encrypt']): Promise<unknown>;
  encrypt(algorithm: { name: 'AES-GCM'; iv: Uint8Array; tagLength: number }, key: unknown, data: Uint8Array): Promise<ArrayBuffer>;
}

/** The runtime's WebCrypto, or `undefined` where it has none (or only on secure origins). */
export function webCryptoSubtle(): Subtle | undefined {
  return (globalThis as { crypto?: { subtle?: Subtle } }).crypto?.subtle;
}

const encoder = new TextEncoder();

/** base64 of bytes, with the runtime's own encoder where it has one (Uint8Array.prototype.toBase64). */
function toBase64(bytes: Uint8Array): string {
  const native = (bytes as { toBase64?: () => string }).toBase64;
  return typeof native === 'function' ? native.call(bytes) : encodeBase64(bytes);
}

/**
 * `base64(seal(key, nonce, UTF-8(text)))` on WebCrypto. Rejects when WebCrypto is missing or
 * refuses (the caller then seals synchronously: same bytes).
 */
export async function webCryptoSealTextToBase64(key: Uint8Array, nonce: Uint8Array, text: string): Promise<string> {
  const subtle = webCryptoSubtle();
  if (subtle === undefined) throw new ArkE2EEError('this runtime has no crypto.subtle');
  const cryptoKey = await subtle.importKey('raw', key, 'AES-GCM', false, ['encrypt']);
  const sealed = await subtle.encrypt({ name: 'AES-GCM', iv: nonce, tagLength: GCM_TAG_LENGTH * 8 }, cryptoKey, encoder.encode(text));
  return toBase64(new Uint8Array(sealed));
}
