/**
 * ark-e2ee for browsers and edge runtimes (the `browser` and `default` export conditions): the
 * public surface without the Node-only parts. No `node:` module and no Node-only module of ours
 * is reachable from here: `backend: 'auto'` is noble, certificates are fetched with `fetch` and
 * kept in memory (no disk cache), and the undici interceptor, the proxy, the CLI and the mock
 * server are Node's (`ark-e2ee` under the `node` condition, `ark-e2ee/testing`).
 * src/index.ts re-exports all of this: add runtime-neutral exports here, not there.
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
export { resolveBackend } from './crypto/select.js';
export { parseCertificate, type ModelCertificate } from './protocol/certificate.js';
export {
  type EncryptInfo,
  type Session,
  type SessionOptions,
} from './protocol/session.js';
export { createSession, sessionFromKey } from './protocol/create-session.js';
export { encryptChatRequest, type EncryptRequestOptions } from './protocol/request.js';
export {
  encryptChatRequestAsync,
  WEBCRYPTO_MIN_TEXT_LENGTH,
  type EncryptRequestAsyncOptions,
} from './protocol/request-async.js';
export { decryptChatCompletion, type PlainTextNotice } from './protocol/response.js';
export { decryptEventStream } from './protocol/event-stream.js';
export * as constants from './protocol/constants.js';
export { createEncryptedFetch } from './transport/create-encrypted-fetch.js';
export type { EncryptedFetchOptions } from './transport/encrypted-fetch.js';
export { HEADER_ARK_E2EE_ERROR, type ErrorDelivery } from './transport/error-response.js';
export type { ArkEncryptionOptions } from './transport/encryptor.js';
export type { CertificateOption } from './certificates/source.js';
export { certificateKeyPin } from './certificates/trust.js';
export type { AccessKeyOptions } from './credentials/access-keys.js';
export { signOpenApiRequest } from './credentials/sign-export.js';
export type { AccessKeyCredentials, SignedOpenApiRequest } from './credentials/sign.js';
