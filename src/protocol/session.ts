/**
 * A session: one request's keys from the handshake (protocol §2) and the text encryption they
 * enable (protocol §3). Made by createSession / sessionFromKey (create-session.ts, on a
 * synchronous backend) or createSessionAsync (session-async.ts). This file imports no backend,
 * so that what makes sessions on WebCrypto does not carry noble's curve code along.
 */
import type { BackendChoice, CryptoBackend } from '../crypto/backend.js';
import { DecryptionFailedError, InvalidCertificateError } from '../errors.js';
import { decodeBase64, encodeBase64 } from '../crypto/base64.js';
import type { ModelCertificate } from './certificate.js';
import {
  AICC_VERSION,
  HKDF_OUTPUT_LENGTH,
  SESSION_KEY_LENGTH,
} from './constants.js';
import { utf8Decode, utf8Encode } from './utf8.js';

/** The `X-Encrypt-Info` header's JSON object (protocol §2). */
export interface EncryptInfo {
  /** The certificate's notAfter, whole Unix seconds. */
  ExpireTime: number;
  Version?: string;
  RingID?: string;
  KeyID?: string;
}

export interface SessionOptions {
  /** AICC mode: the certificate must carry ring and key ids, sent in `X-Encrypt-Info`. */
  aicc?: boolean;
  /**
   * A fixed 32-byte ephemeral scalar, for test vectors only. Reusing a scalar reuses the session
   * key and nonce across requests, which breaks AES-GCM (protocol §7): never set it in
   * production. Without it every session draws a fresh random scalar.
   */
  unsafeFixedEphemeralKeyForTests?: Uint8Array;
  backend?: BackendChoice;
}

/**
 * One request's keys. `key` and `nonce` are readable but not enumerable, and `toJSON` /
 * `util.inspect` leave them out, so logging a session does not print its secrets.
 */
export interface Session {
  /** AES-256 key shared with the service for this one request. */
  readonly key: Uint8Array;
  /** 96-bit GCM nonce, the same for every text of the request and its answer (§3, §7). */
  readonly nonce: Uint8Array;
  /** The `X-Session-Token` value: base64 of our ephemeral public point; `""` from a raw key. */
  readonly token: string;
  /** The `X-Encrypt-Info` object; `undefined` for a session made from a raw key. */
  readonly encryptInfo: EncryptInfo | undefined;
  readonly backend: CryptoBackend;
  /** `base64(AES-256-GCM(key, nonce, UTF-8(text)) || tag)` (protocol §3). */
  encryptText(text: string): string;
  /** The inverse of `encryptText`; `DecryptionFailedError` when it does not authenticate. */
  decryptText(ciphertext: string): string;
  /** The public parts only (token, encryptInfo, backend name); never the key or nonce. */
  toJSON(): SessionSummary;
}

/** What a session shows when it is logged, stringified or inspected. */
export interface SessionSummary {
  readonly token: string;
  readonly encryptInfo: EncryptInfo | undefined;
  readonly backend: string;
}

// The symbol node's util.inspect looks up; Symbol.for keeps protocol/ free of node: imports.
const INSPECT = Symbol.for('nodejs.util.inspect.custom');

const EMPTY = new Uint8Array(0);
const ZERO_SALT = new Uint8Array(32);

function buildEncryptInfo(certificate: ModelCertificate, aicc: boolean): EncryptInfo {
  const info: EncryptInfo = { ExpireTime: Math.floor(certificate.notAfter.getTime() / 1000) };
  if (aicc) {
    info.Version = AICC_VERSION;
    info.RingID = certificate.ringId;
    info.KeyID = certificate.keyId;
  }
  return info;
}

/** `options.aicc`, refused on a certificate without AICC ids. */
export function aiccOf(certificate: ModelCertificate, options: Pick<SessionOptions, 'aicc'>): boolean {
  const aicc = options.aicc ?? false;
  if (aicc && !certificate.isAICC) {
    throw new InvalidCertificateError(
      'AICC mode needs a certificate that names a key ring and a key (SAN ring.<id>, key.<id>); ' +
        'fetch the certificate with AICC on, or turn AICC off',
    );
  }
  return aicc;
}

/** HKDF's input and output of the handshake (§2): the shared secret in, key and nonce out. */
export const HANDSHAKE_HKDF = { salt: ZERO_SALT, info: EMPTY, length: HKDF_OUTPUT_LENGTH } as const;

/** The session of a finished handshake (§2): our public point and the HKDF output. */
export function sessionOfHandshake(
  backend: CryptoBackend,
  publicKey: Uint8Array,
  okm: Uint8Array,
  certificate: ModelCertificate,
  aicc: boolean,
): Session {
  return makeSession(
    backend,
    okm.slice(0, SESSION_KEY_LENGTH),
    okm.slice(SESSION_KEY_LENGTH, HKDF_OUTPUT_LENGTH),
    encodeBase64(publicKey),
    buildEncryptInfo(certificate, aicc),
  );
}

/**
 * The session of `key` and `nonce` on `backend`: its texts' encryption (§3) and decryption. Keeps
 * the arrays it is given (callers pass their own copies).
 */
export function makeSession(
  backend: CryptoBackend,
  key: Uint8Array,
  nonce: Uint8Array,
  token: string,
  encryptInfo: EncryptInfo | undefined,
): Session {
  const frozenInfo = encryptInfo ? Object.freeze(encryptInfo) : undefined;
  const summary = (): SessionSummary => ({ token, encryptInfo: frozenInfo, backend: backend.name });
  const session = {
    token,
    encryptInfo: frozenInfo,
    backend,
    encryptText(text: string): string {
      if (backend.sealTextToBase64 !== undefined) return backend.sealTextToBase64(key, nonce, text);
      return encodeBase64(backend.seal(key, nonce, utf8Encode(text)));
    },
    decryptText(ciphertext: string): string {
      const sealed = decodeBase64(ciphertext);
      if (sealed === undefined) {
        throw new DecryptionFailedError(
          'answer text is not canonical base64, so it is not a ciphertext of this session',
          { offset: 0 },
        );
      }
      const plain = backend.open(key, nonce, sealed);
      if (plain === undefined) {
        throw new DecryptionFailedError(
          'answer text does not authenticate under this session key: it was altered, cut, or ' +
            'encrypted for another request',
          { offset: 0 },
        );
      }
      return utf8Decode(plain);
    },
    toJSON: summary,
  };
  // Not enumerable: spreads, Object.keys, JSON.stringify and loggers that walk own keys skip
  // them; code that needs the key reads `session.key` as before.
  Object.defineProperties(session, {
    key: { value: key, enumerable: false },
    nonce: { value: nonce, enumerable: false },
    [INSPECT]: { value: () => ({ ...summary(), key: '[hidden]', nonce: '[hidden]' }), enumerable: false },
  });
  return Object.freeze(session) as unknown as Session;
}
