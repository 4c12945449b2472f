/**
 * What every transport (fetch wrapper, undici interceptor, proxy) does with one request that
 * asked for encryption, in one place: check it is a chat completion, get the certificate, make
 * the session, encrypt the body, set the headers; then decrypt the answer. Only the edges differ.
 */
import { isLoopback } from '../certificates/origin.js';
import { CertificateSource, type CertificateOption, type CertificateSourceOptions } from '../certificates/source.js';
import type { CertificateHttp } from '../certificates/service.js';
import { CertificateTrust } from '../certificates/trust.js';
import { environmentOf, LazyAccessKeyAuth, ownAuthorization, type AccessKeyOptions } from '../credentials/access-key-options.js';
import type { BackendChoice } from '../crypto/backend.js';
import type { NobleLoader } from '../crypto/session-crypto.js';
import { DecryptionFailedError, InvalidCertificateError, InvalidOptionError, UnsupportedRequestError } from '../errors.js';
import {
  BATCH_CHAT_COMPLETIONS_SUFFIX,
  CHAT_COMPLETIONS_SUFFIX,
  HEADER_ENCRYPT_INFO,
  HEADER_IS_ENCRYPTED,
  HEADER_SESSION_TOKEN,
} from '../protocol/constants.js';
import { decryptEventStream, sizeLimit, type EventStreamOptions } from '../protocol/event-stream.js';
import { encryptChatRequestJsonAsync } from '../protocol/request-async.js';
import { parseChatRequestBody, requestBodyText, stringifyRequestBody } from '../protocol/request-body.js';
import { decryptChatCompletion, type PlainTextNotice } from '../protocol/response.js';
import type { Session } from '../protocol/session.js';
import { SessionPool } from './session-pool.js';
import { certificateFileReader, createDiskCache, defaultCacheDir } from '#certificates/files';

export interface ArkEncryptionOptions extends AccessKeyOptions {
  /** The model certificate: a PEM for every model, or `(model) => PEM`. Default: fetched. */
  certificate?: CertificateOption;
  /**
   * Disk cache folder; default `~/.ark/certificates` under Node; `false` for none. Off Node
   * (the browser build) there is no disk cache and certificates are kept in memory only.
   */
  cacheDir?: string | false;
  /** AICC mode; default: environment `VOLC_ARK_ENCRYPTION=AICC`. */
  aicc?: boolean;
  backend?: BackendChoice;
  /**
   * Warnings (an http(s) image URL or a data: video sent as it is, a reasoning_content left out,
   * an unwritable cache), every time. Default: console.warn, the request ones once per process each.
   */
  onWarning?: (message: string) => void;
  /** Abort a certificate fetch that takes longer than this, in ms. Default 30 000. */
  certificateTimeout?: number;
  /**
   * A certificate service answer larger than this many bytes is not read to its end: the read
   * stops, the connection is released, and the request fails with CertificateUnavailableError.
   * Default 1 MiB (a certificate is a few kilobytes).
   */
  maxCertificateBytes?: number;
  /**
   * PEM root certificates the model certificate must chain to (signatures, validity, CA
   * constraints checked; at most 5 certificates). A string may hold several PEM blocks.
   * Whatever its source, a certificate that does not chain is refused and nothing is sent.
   */
  trustAnchors?: string | readonly string[];
  /** Intermediate CA certificates (PEM) for the chain, when the service gives only the leaf. */
  intermediates?: string | readonly string[];
  /**
   * Base64 SHA-256 of the model certificate's SubjectPublicKeyInfo (the "pin" that
   * `ark-e2ee cert MODEL` shows). The certificate's key must be one of them.
   */
  pinnedKeys?: readonly string[];
  /**
   * Handshakes made ahead, off the request path, per certificate (each used by one request
   * only, then forgotten). Default 4; `0` makes every handshake on its request.
   */
  sessionPool?: number;
  /**
   * Certificates kept in memory, one per (base URL, model, mode), the least recently used
   * dropped past it; also how many models' current certificates the session pool remembers.
   * Default 1000.
   */
  certificateCacheSize?: number;
  /** The largest JSON answer read, in bytes; past it the read stops (`AnswerTooLargeError`). Default 64 MiB. */
  maxAnswerBytes?: number;
  /** The longest line or event of a streamed answer (see `EventStreamOptions`). Default 16 MiB. */
  maxEventBytes?: number;
  /** Plain `content_filter` text, passed on as the protocol sends it, reported here (docs/security.md). */
  onPlainText?: (notice: PlainTextNotice) => void;
}

/** `maxCertificateBytes`, checked: a positive whole number of bytes, or `undefined` for the default. */
export function maxCertificateBytesOf(options: Pick<ArkEncryptionOptions, 'maxCertificateBytes'>): number | undefined {
  const value = options.maxCertificateBytes;
  if (value !== undefined && !(Number.isSafeInteger(value) && value > 0)) {
    throw new InvalidOptionError(`maxCertificateBytes must be a positive whole number of bytes, not ${String(value)}`);
  }
  return value;
}

/** Default of `maxAnswerBytes` (64 MiB). */
export const DEFAULT_MAX_ANSWER_BYTES = 64 * 1024 * 1024;

/** The base URL of a chat completion URL (protocol §6), or `undefined` for any other path. */
export function chatBaseUrl(url: URL): string | undefined {
  const path = url.pathname.replace(/\/+$/, '');
  for (const suffix of [BATCH_CHAT_COMPLETIONS_SUFFIX, CHAT_COMPLETIONS_SUFFIX]) {
    if (path.endsWith(suffix)) {
      const base = path.slice(0, -suffix.length);
      // The bot API is not covered by the protocol: refuse rather than send it in plain text.
      if (base.endsWith('/bots')) return undefined;
      return `${url.origin}${base}`;
    }
  }
  return undefined;
}

export interface EncryptedRequest {
  body: string;
  headers: Headers;
  session: Session;
}

// Functions, not arrows held in constants: a mutation run switches a constant only at load.
function aiccOf(options: ArkEncryptionOptions): boolean {
  return options.aicc ?? environmentOf(options, 'VOLC_ARK_ENCRYPTION') === 'AICC';
}

function warnerOf(options: ArkEncryptionOptions): (message: string) => void {
  return options.onWarning ?? ((message) => console.warn(`ark-e2ee: ${message}`));
}

/**
 * The one construction of the certificate source, for every entry point (the fetch wrapper,
 * the undici interceptor, the proxy, `chat`, `cert`, and the access-key path, which adds its own
 * fetch to these): the same option and environment, disk cache, loopback rule, trust checks
 * and bounds.
 */
export function certificateSourceOptions(
  options: ArkEncryptionOptions,
  http: CertificateHttp,
  warn: (message: string) => void = warnerOf(options),
): CertificateSourceOptions {
  // The disk cache is Node's (`#certificates/files`); elsewhere certificates stay in memory.
  const cacheDir = options.cacheDir === undefined ? defaultCacheDir() : options.cacheDir;
  const fromEnvironment = options.certificate === undefined ? certificateFromEnvironment(options) : undefined;
  return {
    certificate: options.certificate ?? fromEnvironment,
    optionLabel: fromEnvironment ? `the certificate E2E_CERTIFICATE_PATH names (${environmentOf(options, 'E2E_CERTIFICATE_PATH')})` : undefined,
    store: cacheDir ? createDiskCache(cacheDir, warn) : undefined,
    // The default folder is shared with the official SDKs; a local server (the mock, a test
    // double) makes a new certificate each start, and caching it there would only break the
    // next run. An explicit cacheDir caches all (each origin in its own folder).
    storesFor: options.cacheDir === undefined ? (baseUrl) => !isLoopback(baseUrl) : undefined,
    http,
    timeoutMs: options.certificateTimeout,
    trust: CertificateTrust.from(options),
    maxEntries: options.certificateCacheSize,
  };
}

/** A certificate source built by `certificateSourceOptions`. */
export function createCertificateSource(
  options: ArkEncryptionOptions,
  http: CertificateHttp,
  warn?: (message: string) => void,
): CertificateSource {
  return new CertificateSource(certificateSourceOptions(options, http, warn));
}

export class ArkEncryptor {
  private readonly source: CertificateSource;
  private readonly aicc: boolean;
  private readonly warn: (message: string) => void;
  private readonly sessions: SessionPool;
  /**
   * Access keys (options or VOLC_ACCESSKEY / VOLC_SECRETKEY): the OpenAPI path, its code loaded
   * on the first request without an API key of its own; undefined without access keys.
   */
  private readonly accessKeys: LazyAccessKeyAuth | undefined;
  /**
   * Whether the origin a request goes to chooses the certificate it is encrypted to: no
   * certificate, pins or trust anchors in the options. Then an encrypted request must not be
   * sent on to another origin (a redirect), since that origin would pick the key it is sealed to.
   */
  readonly originChoosesCertificate: boolean;
  /** `maxAnswerBytes`, or its default. */
  readonly maxAnswerBytes: number;

  /** `loadNoble`: how a session that needs noble gets it, as the entry chose (crypto/session-crypto.ts). */
  constructor(
    private readonly options: ArkEncryptionOptions,
    http: CertificateHttp,
    loadNoble: NobleLoader,
  ) {
    this.aicc = aiccOf(options);
    this.warn = warnerOf(options);
    this.originChoosesCertificate =
      options.certificate === undefined &&
      !environmentOf(options, 'E2E_CERTIFICATE_PATH') &&
      options.pinnedKeys === undefined &&
      options.trustAnchors === undefined;
    const sourceOptions = certificateSourceOptions(options, http, this.warn);
    this.source = new CertificateSource(sourceOptions);
    const timeoutMs = options.certificateTimeout ?? 30_000;
    this.accessKeys = LazyAccessKeyAuth.from(options, { http, certificates: sourceOptions, timeoutMs, onWarning: this.warn });
    this.sessions = new SessionPool({
      size: options.sessionPool,
      aicc: this.aicc,
      backend: options.backend,
      maxUsers: options.certificateCacheSize,
      loadNoble,
    });
    // A misconfigured limit fails when the client is made, not on the first answer.
    this.maxAnswerBytes = sizeLimit('maxAnswerBytes', options.maxAnswerBytes, DEFAULT_MAX_ANSWER_BYTES);
    sizeLimit('maxEventBytes', options.maxEventBytes, 1);
  }

  /** Encrypts one request; throws (and nothing must be sent) when it cannot. */
  async encryptRequest(request: {
    method: string;
    url: string;
    headers: Headers;
    /** Bytes are decoded as strict UTF-8 (refused, not repaired, when they are not). */
    body: string | Uint8Array;
    signal?: AbortSignal | null;
  }): Promise<EncryptedRequest> {
    const url = new URL(request.url);
    const baseUrl = chatBaseUrl(url);
    if (request.method.toUpperCase() !== 'POST' || baseUrl === undefined) {
      throw new UnsupportedRequestError(
        `${HEADER_IS_ENCRYPTED}: true is set on ${request.method.toUpperCase()} ${url.pathname}, ` +
          'which the encryption protocol does not cover (only POST …/chat/completions and ' +
          `…/batch/chat/completions); nothing was sent. Remove the header from this request.`,
      );
    }
    const text = typeof request.body === 'string' ? request.body : requestBodyText(request.body);
    const { body, model } = parseChatRequestBody(text);
    // Access keys: a request without an API key of its own gets the endpoint's short-lived one.
    const authorization = this.accessKeys ? ownAuthorization(request.headers) : (request.headers.get('authorization') ?? undefined);
    const accessKeys = authorization === undefined ? await this.accessKeys?.get() : undefined;
    const [certificate, apiKey] = await Promise.all([
      (accessKeys ? accessKeys.certificates : this.source).get({
        model, aicc: this.aicc, baseUrl, authorization, signal: request.signal,
      }),
      accessKeys?.apiKey(model, request.headers, request.signal),
    ]);
    // A replaced certificate's ready sessions go (session-pool.ts).
    this.sessions.use(`${baseUrl}\n${model}`, certificate);
    const session = await this.sessions.take(certificate);
    // The caller's onWarning, or the protocol layer's default: once per process for each kind.
    // Large texts (images) go to WebCrypto off Node: same bytes, off the main thread.
    const encrypted = await encryptChatRequestJsonAsync(body, session, { onWarning: this.options.onWarning });
    const headers = new Headers(request.headers);
    headers.set(HEADER_IS_ENCRYPTED, 'true');
    headers.set(HEADER_SESSION_TOKEN, session.token);
    headers.set(HEADER_ENCRYPT_INFO, JSON.stringify(session.encryptInfo));
    headers.delete('content-length');
    if (apiKey !== undefined) headers.set('authorization', `Bearer ${apiKey}`);
    return { body: stringifyRequestBody(encrypted), headers, session };
  }

  /** The text of a JSON answer, decrypted. */
  decryptJsonText(text: string, session: Session): string {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new DecryptionFailedError(
        'the answer to an encrypted request is not JSON, so it cannot be checked; not trusting it',
      );
    }
    return JSON.stringify(decryptChatCompletion(body, session, { onPlainText: this.options.onPlainText }));
  }

  /** `signal`: the caller's; an abort through it stays the caller's own error, not a stream error. */
  decryptStream(stream: ReadableStream<Uint8Array>, session: Session, signal?: AbortSignal | null): ReadableStream<Uint8Array> {
    return decryptEventStream(stream, session, { ...this.streamOptions, signal });
  }

  /** The limits and the plain-text hook every transport's stream decrypter gets. */
  get streamOptions(): EventStreamOptions {
    return { maxEventBytes: this.options.maxEventBytes, onPlainText: this.options.onPlainText };
  }
}

/**
 * `E2E_CERTIFICATE_PATH`, as the official SDKs read it: one PEM file for every model, read with
 * bounds and once per change (certificates/certificate-file.ts, Node only).
 */
function certificateFromEnvironment(options: ArkEncryptionOptions): CertificateOption | undefined {
  const path = environmentOf(options, 'E2E_CERTIFICATE_PATH');
  if (!path) return undefined;
  const reader = certificateFileReader(path);
  if (reader !== undefined) return reader;
  return () => {
    throw new InvalidCertificateError(
      'E2E_CERTIFICATE_PATH is set, but this runtime has no file system: unset it, or give the certificate option',
    );
  };
}

/** Whether an answer's content type is an event stream. */
export function isEventStream(contentType: string | null | undefined): boolean {
  return typeof contentType === 'string' && contentType.toLowerCase().includes('text/event-stream');
}
