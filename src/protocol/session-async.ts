/**
 * createSessionAsync: `createSession` (session.ts, protocol §2) for callers that can wait, which
 * lets the handshake run where it is cheapest: node:crypto under Node, WebCrypto elsewhere
 * (native, off the main thread, and no curve code to load), noble only when asked for or when
 * there is nothing else (crypto/session-crypto.ts). The same session, byte for byte, and the
 * same refusals.
 */
import { sessionCrypto, type NobleLoader, type SessionCrypto } from '../crypto/session-crypto.js';
import type { ModelCertificate } from './certificate.js';
import { aiccOf, HANDSHAKE_HKDF, sessionOfHandshake, type Session, type SessionOptions } from './session.js';

/**
 * A session from a fresh ephemeral key agreed with the model certificate's key (§2); `loadNoble`
 * gives the noble backend when the session needs it (crypto/session-crypto.ts).
 */
export async function createSessionAsync(certificate: ModelCertificate, options: SessionOptions, loadNoble: NobleLoader): Promise<Session> {
  const aicc = aiccOf(certificate, options);
  return sessionWith(await sessionCrypto(options.backend, options.unsafeFixedEphemeralKeyForTests, loadNoble), certificate, aicc);
}

/** The handshake (§2) on `crypto`; `aicc` already checked against the certificate. */
export async function sessionWith(crypto: SessionCrypto, certificate: ModelCertificate, aicc: boolean): Promise<Session> {
  const agreement = await crypto.agree(certificate.publicKey);
  const { salt, info, length } = HANDSHAKE_HKDF;
  const okm = await crypto.hkdf(agreement.sharedSecret, salt, info, length);
  return sessionOfHandshake(crypto.backend, agreement.publicKey, okm, certificate, aicc);
}
