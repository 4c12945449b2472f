/**
 * Where a session made asynchronously (protocol/session-async.ts) does its handshake: the same
 * choice as `resolveBackend` (crypto/select.ts), except that `backend: 'auto'` without
 * node:crypto agrees on WebCrypto, and noble's P-256 and HKDF code is asked for (`NobleLoader`)
 * only when it is needed: `backend: 'noble'`, a runtime without `crypto.subtle` (a page on plain
 * http), or a fixed ephemeral scalar (test vectors: WebCrypto cannot take a bare scalar). This
 * file neither imports noble.ts nor loads it: the caller decides how (noble-lazy.ts
 * `loadNobleOnDemand`, a chunk of its own, for createEncryptedFetch, so that a browser bundle
 * loads the curve code only when it runs; select.ts `loadNoble`, static, for the Node-only undici
 * interceptor).
 */
import { ArkE2EEError } from '../errors.js';
import { nodeBackendMissing, type BackendChoice, type CryptoBackend, type KeyAgreement } from './backend.js';
import { nobleAead } from './noble-aead.js';
import { agreementSubtle, webCryptoAgree, webCryptoHkdf, type AgreementSubtle, type WebCryptoKeyPair } from './webcrypto-agree.js';
import { nativeBackend } from '#crypto/native';

/** The noble backend, however the entry gets it. */
export type NobleLoader = () => Promise<CryptoBackend>;

/** The handshake's two steps (protocol §2), and the backend the session then encrypts with. */
export interface SessionCrypto {
  /** The session's AES-GCM (texts, and the GCM boundary search through `encryptBlock`). */
  readonly backend: CryptoBackend;
  agree(peerPublicKey: Uint8Array): Promise<KeyAgreement>;
  hkdf(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Promise<Uint8Array>;
}

/** A synchronous backend, as a SessionCrypto. */
function fromBackend(backend: CryptoBackend, privateKey: Uint8Array | undefined): SessionCrypto {
  return {
    backend,
    agree: async (peer) => backend.agree(peer, privateKey),
    hkdf: async (ikm, salt, info, length) => backend.hkdf(ikm, salt, info, length),
  };
}

const onWebCrypto = (operation: string) => (): never => {
  throw new ArkE2EEError(
    `this session's handshake ran on WebCrypto, and its backend carries only AES-GCM; for ${operation} ` +
      "use resolveBackend('noble')",
  );
};

/**
 * The backend of a session agreed on WebCrypto: noble's AES-GCM, synchronous as every session's
 * texts need it. `name` is 'noble': that is what encrypts and decrypts its texts.
 */
export const webCryptoSessionBackend: CryptoBackend = Object.freeze({
  name: 'noble',
  ...nobleAead,
  agree: onWebCrypto('ECDH'),
  hkdf: onWebCrypto('HKDF'),
});

/**
 * The handshake on `subtle`, with a fresh ephemeral key each time, or `ephemeral` (tests). What
 * WebCrypto refuses goes to noble for a second opinion: noble refuses a bad peer key in its own
 * words (what the caller sees, the same on every backend), and a runtime whose WebCrypto lacks
 * P-256 ECDH or HKDF still works, on noble.
 */
export function webCryptoSessionCrypto(subtle: AgreementSubtle, loadNoble: NobleLoader, ephemeral?: WebCryptoKeyPair): SessionCrypto {
  return {
    backend: webCryptoSessionBackend,
    agree: async (peer) => {
      try {
        return await webCryptoAgree(subtle, peer, ephemeral);
      } catch (error) {
        // A fixed test key cannot be handed to noble (its scalar is inside WebCrypto).
        if (ephemeral !== undefined) throw error;
        return (await loadNoble()).agree(peer);
      }
    },
    hkdf: async (ikm, salt, info, length) => {
      try {
        return await webCryptoHkdf(subtle, ikm, salt, info, length);
      } catch {
        return (await loadNoble()).hkdf(ikm, salt, info, length);
      }
    },
  };
}

/**
 * Where a session for `choice` agrees (see the top of this file). `privateKey`: a fixed 32-byte
 * ephemeral scalar, for test vectors only.
 */
export async function sessionCrypto(
  // Stryker disable next-line StringLiteral: every string but 'noble' and 'node' takes the path of 'auto', so '' and 'auto' agree
  choice: BackendChoice = 'auto',
  privateKey: Uint8Array | undefined,
  loadNoble: NobleLoader,
): Promise<SessionCrypto> {
  if (typeof choice === 'object') return fromBackend(choice, privateKey);
  if (choice !== 'noble') {
    const node = nativeBackend();
    if (node) return fromBackend(node, privateKey);
    if (choice === 'node') throw nodeBackendMissing();
    const subtle = agreementSubtle();
    if (subtle !== undefined && privateKey === undefined) return webCryptoSessionCrypto(subtle, loadNoble);
  }
  return fromBackend(await loadNoble(), privateKey);
}
