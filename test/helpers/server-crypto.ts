/**
 * The service's side of the protocol (docs/protocol.md §2, §3), written with node:crypto only
 * and independently of src/: tests check the library against this, never against itself.
 */
import {
  createCipheriv,
  createDecipheriv,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  type KeyObject,
} from 'node:crypto';

const TAG_LENGTH = 16;

/** `base64(AES-256-GCM(key, nonce, UTF-8(text)) || tag)`. */
export function serverEncrypt(key: Uint8Array, nonce: Uint8Array, text: string): string {
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_LENGTH });
  const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return body.toString('base64');
}

/** The inverse of `serverEncrypt`; throws when the text does not authenticate. */
export function serverDecrypt(key: Uint8Array, nonce: Uint8Array, b64: string): string {
  const sealed = Buffer.from(b64, 'base64');
  if (sealed.toString('base64') !== b64) throw new Error('not canonical base64');
  if (sealed.length < TAG_LENGTH) throw new Error('shorter than a tag');
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_LENGTH });
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_LENGTH));
  const plain = Buffer.concat([
    decipher.update(sealed.subarray(0, sealed.length - TAG_LENGTH)),
    decipher.final(),
  ]);
  return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(plain);
}

/** Key and nonce the service derives from its certificate key and the client's session token. */
export function deriveSession(
  privateKey: KeyObject,
  tokenB64: string,
): { key: Uint8Array; nonce: Uint8Array } {
  const point = Buffer.from(tokenB64, 'base64');
  if (point.length !== 65 || point[0] !== 0x04) throw new Error('token is not an uncompressed point');
  const publicKey = createPublicKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      x: point.subarray(1, 33).toString('base64url'),
      y: point.subarray(33, 65).toString('base64url'),
    },
    format: 'jwk',
  });
  const z = diffieHellman({ privateKey, publicKey });
  const okm = new Uint8Array(hkdfSync('sha256', z, new Uint8Array(32), new Uint8Array(0), 44));
  return { key: okm.slice(0, 32), nonce: okm.slice(32, 44) };
}
