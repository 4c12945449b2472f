/**
 * Every error this library throws is an `ArkE2EEError` with a stable `code`, so callers can
 * branch on `err.code` without parsing messages. Messages say what was wrong and what to do;
 * they never carry key material or plaintext.
 */

export type ArkE2EEErrorCode =
  | 'ERR_ARK_E2EE'
  | 'ERR_ARK_E2EE_INVALID_CERTIFICATE'
  | 'ERR_ARK_E2EE_UNSUPPORTED_CONTENT'
  | 'ERR_ARK_E2EE_DECRYPTION_FAILED'
  | 'ERR_ARK_E2EE_INVALID_KEY'
  | 'ERR_ARK_E2EE_UNSUPPORTED_REQUEST'
  | 'ERR_ARK_E2EE_CERTIFICATE_UNAVAILABLE'
  | 'ERR_ARK_E2EE_STREAM'
  | 'ERR_ARK_E2EE_OPENAPI'
  | 'ERR_ARK_E2EE_RESEND_REFUSED'
  | 'ERR_ARK_E2EE_ANSWER_TOO_LARGE'
  | 'ERR_ARK_E2EE_REQUEST_TOO_LARGE'
  | 'ERR_ARK_E2EE_INVALID_OPTION';

export class ArkE2EEError extends Error {
  static readonly code: ArkE2EEErrorCode = 'ERR_ARK_E2EE';
  readonly code: ArkE2EEErrorCode;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = (new.target as typeof ArkE2EEError).code;
  }
}

/** The model's certificate is not a PEM X.509 certificate with a P-256 key, or is not usable. */
export class InvalidCertificateError extends ArkE2EEError {
  static override readonly code = 'ERR_ARK_E2EE_INVALID_CERTIFICATE';
}

/** A request part that the protocol cannot encrypt (protocol §4); nothing was sent. */
export class UnsupportedContentError extends ArkE2EEError {
  static override readonly code = 'ERR_ARK_E2EE_UNSUPPORTED_CONTENT';
  /** Index of the offending message in `messages`. */
  readonly messageIndex: number;
  /** Index of the offending part in the message's `content` array, when it is an array. */
  readonly partIndex: number | undefined;

  constructor(message: string, where: { messageIndex: number; partIndex?: number }) {
    super(message);
    this.messageIndex = where.messageIndex;
    this.partIndex = where.partIndex;
  }
}

/** A text in an answer is not canonical base64 or does not authenticate under the session key. */
export class DecryptionFailedError extends ArkE2EEError {
  static override readonly code = 'ERR_ARK_E2EE_DECRYPTION_FAILED';
  /** Index of the choice whose content failed, when it came from a chat completion. */
  readonly choiceIndex: number | undefined;
  /** Offset (in base64 characters) in that content where the failing ciphertext starts. */
  readonly offset: number | undefined;

  constructor(message: string, where: { choiceIndex?: number; offset?: number } = {}) {
    super(message);
    this.choiceIndex = where.choiceIndex;
    this.offset = where.offset;
  }
}

/** A key, nonce, scalar or peer point of the wrong length or not on the curve. */
export class InvalidKeyError extends ArkE2EEError {
  static override readonly code = 'ERR_ARK_E2EE_INVALID_KEY';
}

/** `x-is-encrypted: true` on a request the protocol does not cover; nothing was sent. */
export class UnsupportedRequestError extends ArkE2EEError {
  static override readonly code = 'ERR_ARK_E2EE_UNSUPPORTED_REQUEST';
}

/** The model's certificate could not be had from any source; nothing was sent. */
export class CertificateUnavailableError extends ArkE2EEError {
  static override readonly code = 'ERR_ARK_E2EE_CERTIFICATE_UNAVAILABLE';
  /** HTTP status of the certificate service's answer, when there was one. */
  readonly status: number | undefined;
  /** The service's own error message, when it gave one. */
  readonly serviceMessage: string | undefined;

  constructor(
    message: string,
    details: { status?: number; serviceMessage?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: details.cause });
    this.status = details.status;
    this.serviceMessage = details.serviceMessage;
  }
}

/** An event stream that is not well formed (cut inside an event, data that is not JSON). */
export class EventStreamError extends ArkE2EEError {
  static override readonly code = 'ERR_ARK_E2EE_STREAM';
}

/**
 * A Volcengine OpenAPI call made with access keys (GetApiKey, GetEndpointCertificate) failed, or
 * the access keys are set up wrong; nothing was sent to the chat endpoint.
 */
export class OpenApiError extends ArkE2EEError {
  static override readonly code = 'ERR_ARK_E2EE_OPENAPI';
  /** The OpenAPI action, e.g. `GetApiKey`; `undefined` for a setup problem. */
  readonly action: string | undefined;
  /** HTTP status of the OpenAPI's answer, when there was one. */
  readonly status: number | undefined;
  /** The OpenAPI's own error code (`ResponseMetadata.Error.Code`), e.g. `SignatureDoesNotMatch`. */
  readonly openApiCode: string | undefined;
  /** The OpenAPI's request id (`ResponseMetadata.RequestId`), for Volcengine support. */
  readonly requestId: string | undefined;

  constructor(
    message: string,
    details: { action?: string; status?: number; openApiCode?: string; requestId?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: details.cause });
    this.action = details.action;
    this.status = details.status;
    this.openApiCode = details.openApiCode;
    this.requestId = details.requestId;
  }
}

/**
 * An encrypted request would have gone out a second time: a layer below the encryption (a
 * retry or redirect interceptor) sending the same session again, or a layer above it sending
 * the request on to another origin that would choose the certificate itself. Not sent.
 */
export class ResendRefusedError extends ArkE2EEError {
  static override readonly code = 'ERR_ARK_E2EE_RESEND_REFUSED';
}

/**
 * An answer (a JSON body, or one line or event of a stream) grew past its size limit
 * (`maxAnswerBytes`, `maxEventBytes`); the read was stopped and the connection let go.
 */
export class AnswerTooLargeError extends ArkE2EEError {
  static override readonly code = 'ERR_ARK_E2EE_ANSWER_TOO_LARGE';
  /** The limit that was passed. */
  readonly limit: number;

  constructor(message: string, details: { limit: number }) {
    super(message);
    this.limit = details.limit;
  }
}

/**
 * The body of a request the encrypting proxy was to encrypt is larger than its limit
 * (`maxRequestBytes`, `--max-body`); the proxy answers 413 and nothing was sent.
 */
export class RequestTooLargeError extends ArkE2EEError {
  static override readonly code = 'ERR_ARK_E2EE_REQUEST_TOO_LARGE';
  /** The limit that was passed, in bytes. */
  readonly limit: number;

  constructor(message: string, details: { limit: number }) {
    super(message);
    this.limit = details.limit;
  }
}

/**
 * An option or argument the caller gave is out of range or malformed (a size limit that is NaN,
 * a pool size below 0, an upstream that is not http(s), a header name with a space); thrown when
 * the client, proxy or pool is made, before anything is sent.
 */
export class InvalidOptionError extends ArkE2EEError {
  static override readonly code = 'ERR_ARK_E2EE_INVALID_OPTION';
}
