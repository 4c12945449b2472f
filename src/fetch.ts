/**
 * `ark-e2ee/fetch`: createEncryptedFetch and what its callers need with it (the error classes,
 * the options' types), without the synchronous protocol API. The main entries (browser.ts,
 * index.ts) export `createSession`, `sessionFromKey` and `resolveBackend`, which run noble's P-256
 * synchronously and so import it statically; bundlers keep whatever an entry's module graph
 * reaches in what loads first (esbuild splits by file, and a file both imported and loaded on
 * demand stays with the importer), so an app that only encrypts its requests would carry the curve
 * code it never runs. From this entry, the handshake runs on WebCrypto (node:crypto under
 * Node), and noble's curve code is a chunk loaded on first need (docs/performance.md, bundle
 * size). The same createEncryptedFetch as the main entries' (both are encryptedFetchWith), except
 * for how a session that needs noble gets it.
 */
export {
  AnswerTooLargeError,
  ArkE2EEError,
  CertificateUnavailableError,
  DecryptionFailedError,
  EventStreamError,
  InvalidCertificateError,
  InvalidKeyError,
  InvalidOptionError,
  OpenApiError,
  ResendRefusedError,
  UnsupportedContentError,
  UnsupportedRequestError,
  type ArkE2EEErrorCode,
} from './errors.js';
export type { BackendChoice, BackendName, CryptoBackend, KeyAgreement } from './crypto/backend.js';
import { loadNobleOnDemand } from './crypto/noble-lazy.js';
import { encryptedFetchWith, type EncryptedFetchOptions } from './transport/encrypted-fetch.js';

export type { EncryptedFetchOptions };
export { HEADER_ARK_E2EE_ERROR, type ErrorDelivery } from './transport/error-response.js';
export type { ArkEncryptionOptions } from './transport/encryptor.js';
export type { CertificateOption } from './certificates/source.js';
export type { AccessKeyOptions } from './credentials/access-keys.js';
export type { PlainTextNotice } from './protocol/response.js';

/**
 * createEncryptedFetch (as `ark-e2ee` has it, transport/create-encrypted-fetch.ts), with noble's
 * P-256 loaded on first need, as a chunk of its own.
 */
export function createEncryptedFetch(options: EncryptedFetchOptions = {}): typeof fetch {
  return encryptedFetchWith(loadNobleOnDemand, options);
}
