/** ark-e2ee: Volcengine Ark application-layer encryption for any fetch-based client. */
export {
  ArkE2EEError,
  CertificateUnavailableError,
  DecryptionFailedError,
  EventStreamError,
  InvalidCertificateError,
  InvalidKeyError,
  UnsupportedContentError,
  UnsupportedRequestError,
  type ArkE2EEErrorCode,
} from './errors.js';
export type { BackendChoice, BackendName, CryptoBackend, KeyAgreement } from './crypto/backend.js';
export { resolveBackend } from './crypto/select.js';
export { parseCertificate, type ModelCertificate } from './protocol/certificate.js';
export {
  createSession,
  sessionFromKey,
  type EncryptInfo,
  type Session,
  type SessionOptions,
} from './protocol/session.js';
export { encryptChatRequest, type EncryptRequestOptions } from './protocol/request.js';
export { decryptChatCompletion } from './protocol/response.js';
export { decryptEventStream } from './protocol/event-stream.js';
export * as constants from './protocol/constants.js';
export { createEncryptedFetch, type EncryptedFetchOptions } from './transport/encrypted-fetch.js';
export type { ArkEncryptionOptions } from './transport/encryptor.js';
export { arkEncryption, type ArkEncryptionInterceptorOptions } from './transport/undici.js';
export type { CertificateOption } from './certificates/source.js';
