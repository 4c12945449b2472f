/**
 * createSession / sessionFromKey: sessions on a synchronous backend (`resolveBackend`: node:crypto
 * or noble), for the public API. Apart from session.ts so that what only makes sessions
 * asynchronously (session-async.ts, the transports) does not import the backend selection and,
 * with it, noble's curve code.
 */
import type { BackendChoice } from '../crypto/backend.js';
import { resolveBackend } from '../crypto/select.js';
import { InvalidKeyError } from '../errors.js';
import type { ModelCertificate } from './certificate.js';
import { SESSION_KEY_LENGTH, SESSION_NONCE_LENGTH } from './constants.js';
import { aiccOf, HANDSHAKE_HKDF, makeSession, sessionOfHandshake, type Session, type SessionOptions } from './session.js';

/** A session from a fresh ephemeral key agreed with the model certificate's key (§2). */
export function createSession(certificate: ModelCertificate, options: SessionOptions = {}): Session {
  const backend = resolveBackend(options.backend);
  const aicc = aiccOf(certificate, options);
  const agreement = backend.agree(certificate.publicKey, options.unsafeFixedEphemeralKeyForTests);
  const { salt, info, length } = HANDSHAKE_HKDF;
  const okm = backend.hkdf(agreement.sharedSecret, salt, info, length);
  return sessionOfHandshake(backend, agreement.publicKey, okm, certificate, aicc);
}

/** A session from a raw key and nonce, e.g. the service side, or a recorded exchange. */
export function sessionFromKey(
  key: Uint8Array,
  nonce: Uint8Array,
  options: { backend?: BackendChoice } = {},
): Session {
  if (key.length !== SESSION_KEY_LENGTH) {
    throw new InvalidKeyError(`session key must be ${SESSION_KEY_LENGTH} bytes, got ${key.length}`);
  }
  if (nonce.length !== SESSION_NONCE_LENGTH) {
    throw new InvalidKeyError(
      `session nonce must be ${SESSION_NONCE_LENGTH} bytes, got ${nonce.length}`,
    );
  }
  return makeSession(resolveBackend(options.backend), key.slice(), nonce.slice(), '', undefined);
}
