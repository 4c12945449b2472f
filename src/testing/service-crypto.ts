/**
 * The service side of the handshake and of text encryption (protocol §2, §3), on node:crypto
 * only, written independently of src/protocol and src/crypto so that it checks the client.
 */
import { createCipheriv, createDecipheriv, createECDH, hkdfSync, type ECDH, type KeyObject } from 'node:crypto';
import { DecryptionFailedError, InvalidKeyError } from '../errors.js';
import { HKDF_OUTPUT_LENGTH, SESSION_KEY_LENGTH, SESSION_NONCE_LENGTH } from '../protocol/constants.js';

const GCM_TAG_LENGTH = 16;
const UNCOMPRESSED_POINT_LENGTH = 65;
const HKDF_ZERO_SALT = Buffer.alloc(32);
// One character class and at most two '=': no group to repeat, so the check is linear in time and
// constant in stack whatever the size (a repeated group overflows the stack past about 4 MB).
const BASE64_ALPHABET = /^[A-Za-z0-9+/]*={0,2}$/;

export interface ServerSession {
  /** AES-256 key, 32 bytes. */
  readonly key: Buffer;
  /** GCM nonce, 12 bytes. */
  readonly nonce: Buffer;
}

/** Decodes strict, canonical standard base64; throws DecryptionFailedError on anything else. */
export function decodeStrictBase64(text: string): Buffer {
  if (text.length % 4 !== 0 || !BASE64_ALPHABET.test(text)) throw new DecryptionFailedError('not canonical standard base64');
  const bytes = Buffer.from(text, 'base64');
  // Re-encoding gives the text back only when it was canonical (padding, unused bits zero).
  if (bytes.toString('base64') !== text) throw new DecryptionFailedError('not canonical standard base64');
  return bytes;
}

/**
 * An ECDH object holding the certificate key, made once per key: setting the private key also
 * derives the public point (a scalar multiplication), which a service does not redo per request.
 * computeSecret does not change the object, so one serves every request.
 */
const agreements = new WeakMap<KeyObject, ECDH>();
function certificateAgreement(key: KeyObject): ECDH {
  let ecdh = agreements.get(key);
  if (ecdh === undefined) {
    const jwk = key.export({ format: 'jwk' });
    if (jwk.crv !== 'P-256' || typeof jwk.d !== 'string') throw new InvalidKeyError('the certificate key is not a P-256 private key');
    ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(Buffer.from(jwk.d, 'base64url'));
    agreements.set(key, ecdh);
  }
  return ecdh;
}

/**
 * The service's half of the handshake: Z = ECDH(certificate key, token point).x,
 * OKM = HKDF-SHA256(Z, 32 zero bytes, empty info, 44), key = OKM[0..32], nonce = OKM[32..44].
 */
export function deriveServerSession(certificatePrivateKey: KeyObject, sessionTokenBase64: string): ServerSession {
  const point = decodeStrictBase64(sessionTokenBase64);
  if (point.length !== UNCOMPRESSED_POINT_LENGTH || point[0] !== 0x04) {
    throw new InvalidKeyError('the session token is not an uncompressed P-256 point (65 bytes, 04 || X || Y)');
  }
  const ecdh = certificateAgreement(certificatePrivateKey);
  // computeSecret rejects points that are not on the curve.
  let z: Buffer;
  try {
    z = ecdh.computeSecret(point);
  } catch (error) {
    throw new InvalidKeyError('the session token is not a point on P-256', { cause: error });
  }
  const okm = Buffer.from(hkdfSync('sha256', z, HKDF_ZERO_SALT, Buffer.alloc(0), HKDF_OUTPUT_LENGTH));
  return {
    key: okm.subarray(0, SESSION_KEY_LENGTH),
    nonce: okm.subarray(SESSION_KEY_LENGTH, SESSION_KEY_LENGTH + SESSION_NONCE_LENGTH),
  };
}

/** `base64(AES-256-GCM(key, nonce, UTF-8(text)) ciphertext || tag)` (protocol §3). */
export function serverEncrypt(key: Uint8Array, nonce: Uint8Array, text: string): string {
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: GCM_TAG_LENGTH });
  const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return body.toString('base64');
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The inverse of serverEncrypt for ONE ciphertext; throws if it does not authenticate. */
export function serverDecrypt(key: Uint8Array, nonce: Uint8Array, ciphertextBase64: string): string {
  const body = decodeStrictBase64(ciphertextBase64);
  if (body.length < GCM_TAG_LENGTH) throw new DecryptionFailedError('ciphertext shorter than the GCM tag');
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: GCM_TAG_LENGTH });
  decipher.setAuthTag(body.subarray(body.length - GCM_TAG_LENGTH));
  try {
    const plain = Buffer.concat([decipher.update(body.subarray(0, body.length - GCM_TAG_LENGTH)), decipher.final()]);
    return utf8.decode(plain);
  } catch (error) {
    throw new DecryptionFailedError(`the ciphertext does not authenticate under the session key, or is not UTF-8 (${(error as Error).message})`);
  }
}

/** Where in the request a text failed to decrypt, e.g. `messages[2].content[0].text`. */
export class RequestDecryptionError extends DecryptionFailedError {
  constructor(readonly where: string, reason: string) {
    super(`${where}: ${reason}`);
  }
}

type Json = unknown;

function isRecord(value: Json): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isRemoteUrl(url: string): boolean {
  return /^https?:/i.test(url);
}

/**
 * Decrypts every encrypted text of a chat request's `messages` (protocol §4): string contents,
 * `text` of text parts, `image_url.url` of image parts that are not http(s). Returns a new
 * messages array; throws RequestDecryptionError on the first text that does not decrypt or
 * on a shape the protocol does not allow.
 */
export function decryptRequestMessages(
  messages: Json,
  decrypt: (ciphertext: string) => string,
  /** Receives where each ciphertext was, e.g. `messages[1].content`, in order. */
  opened?: string[],
): Json[] {
  if (!Array.isArray(messages)) throw new RequestDecryptionError('messages', 'not an array');
  const open = (where: string, value: Json): string => {
    if (typeof value !== 'string') throw new RequestDecryptionError(where, 'not a string');
    try {
      const text = decrypt(value);
      opened?.push(where);
      return text;
    } catch (error) {
      throw new RequestDecryptionError(where, `does not decrypt (${(error as Error).message})`);
    }
  };
  return messages.map((message: Json, i) => {
    if (!isRecord(message)) throw new RequestDecryptionError(`messages[${i}]`, 'not an object');
    const content = message['content'];
    if (content === undefined || content === null) return { ...message };
    if (typeof content === 'string') return { ...message, content: open(`messages[${i}].content`, content) };
    if (!Array.isArray(content)) throw new RequestDecryptionError(`messages[${i}].content`, 'neither a string nor an array');
    const parts = content.map((part: Json, j) => {
      const where = `messages[${i}].content[${j}]`;
      if (!isRecord(part)) throw new RequestDecryptionError(where, 'not an object');
      if (part['type'] === 'text') return { ...part, text: open(`${where}.text`, part['text']) };
      if (part['type'] === 'video_url') return { ...part };
      if (part['type'] === 'image_url') {
        const image = part['image_url'];
        if (!isRecord(image) || typeof image['url'] !== 'string') throw new RequestDecryptionError(where, 'image_url without url');
        if (isRemoteUrl(image['url'])) return { ...part, image_url: { ...image } };
        return { ...part, image_url: { ...image, url: open(`${where}.image_url.url`, image['url']) } };
      }
      throw new RequestDecryptionError(where, `part type ${JSON.stringify(part['type'])} is not allowed`);
    });
    return { ...message, content: parts };
  });
}
