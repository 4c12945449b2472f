/**
 * What every transport (fetch wrapper, undici interceptor, proxy) does with one request that
 * asked for encryption, in one place: check it is a chat completion, get the certificate, make
 * the session, encrypt the body, set the headers; then decrypt the answer. Only the edges differ.
 */
import { createDiskCache, defaultCacheDir } from '../certificates/disk-cache.js';
import { CertificateSource, type CertificateOption } from '../certificates/source.js';
import type { CertificateHttp } from '../certificates/service.js';
import type { BackendChoice } from '../crypto/backend.js';
import { DecryptionFailedError, InvalidCertificateError, UnsupportedRequestError } from '../errors.js';
import {
  BATCH_CHAT_COMPLETIONS_SUFFIX,
  CHAT_COMPLETIONS_SUFFIX,
  HEADER_ENCRYPT_INFO,
  HEADER_IS_ENCRYPTED,
  HEADER_SESSION_TOKEN,
} from '../protocol/constants.js';
import { decryptEventStream } from '../protocol/event-stream.js';
import { isJsonObject } from '../protocol/json.js';
import { encryptChatRequest } from '../protocol/request.js';
import { decryptChatCompletion } from '../protocol/response.js';
import { createSession, type Session } from '../protocol/session.js';
import { builtinModule, environment } from '../runtime.js';
import type * as Fs from 'node:fs/promises';

export interface ArkEncryptionOptions {
  /** The model certificate: a PEM for every model, or `(model) => PEM`. Default: fetched. */
  certificate?: CertificateOption;
  /** Disk cache folder; default `~/.ark/certificates` under Node; `false` for none. */
  cacheDir?: string | false;
  /** AICC mode; default: environment `VOLC_ARK_ENCRYPTION=AICC`. */
  aicc?: boolean;
  backend?: BackendChoice;
  /** Warnings (an unencrypted http image URL, an unwritable cache). Default: console.warn. */
  onWarning?: (message: string) => void;
  /** Abort a certificate fetch that takes longer than this, in ms. Default 30 000. */
  certificateTimeout?: number;
}

/** Whether headers (any case) carry `x-is-encrypted: true`. */
export function asksForEncryption(value: string | null | undefined): boolean {
  return typeof value === 'string' && value.trim().toLowerCase() === 'true';
}

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

export class ArkEncryptor {
  private readonly source: CertificateSource;
  private readonly aicc: boolean;
  private readonly warn: (message: string) => void;

  constructor(
    private readonly options: ArkEncryptionOptions,
    http: CertificateHttp,
  ) {
    this.aicc = options.aicc ?? environment('VOLC_ARK_ENCRYPTION') === 'AICC';
    this.warn = options.onWarning ?? ((message) => console.warn(`ark-e2ee: ${message}`));
    const cacheDir = options.cacheDir === undefined ? defaultCacheDir() : options.cacheDir;
    this.source = new CertificateSource({
      certificate: options.certificate ?? certificateFromEnvironment(),
      store: cacheDir ? createDiskCache(cacheDir, this.warn) : undefined,
      http,
      timeoutMs: options.certificateTimeout,
    });
  }

  /** Encrypts one request; throws (and nothing must be sent) when it cannot. */
  async encryptRequest(request: {
    method: string;
    url: string;
    headers: Headers;
    body: string;
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
    let body: unknown;
    try {
      body = JSON.parse(request.body);
    } catch {
      body = undefined;
    }
    if (!isJsonObject(body) || !Array.isArray(body.messages) || typeof body.model !== 'string') {
      throw new UnsupportedRequestError(
        'a request with encryption on must have a JSON chat completion body with "model" and ' +
          '"messages"; nothing was sent',
      );
    }
    const certificate = await this.source.get({
      model: body.model,
      aicc: this.aicc,
      baseUrl,
      authorization: request.headers.get('authorization') ?? undefined,
      signal: request.signal,
    });
    const session = createSession(certificate, { aicc: this.aicc, backend: this.options.backend });
    const encrypted = encryptChatRequest(body, session, { onWarning: this.warn });
    const headers = new Headers(request.headers);
    headers.set(HEADER_IS_ENCRYPTED, 'true');
    headers.set(HEADER_SESSION_TOKEN, session.token);
    headers.set(HEADER_ENCRYPT_INFO, JSON.stringify(session.encryptInfo));
    headers.delete('content-length');
    return { body: JSON.stringify(encrypted), headers, session };
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
    return JSON.stringify(decryptChatCompletion(body, session));
  }

  decryptStream(stream: ReadableStream<Uint8Array>, session: Session): ReadableStream<Uint8Array> {
    return decryptEventStream(stream, session);
  }
}

/** `E2E_CERTIFICATE_PATH`, read as the official SDKs do: one PEM file for every model. */
function certificateFromEnvironment(): CertificateOption | undefined {
  const path = environment('E2E_CERTIFICATE_PATH');
  if (!path) return undefined;
  return async () => {
    const fs = builtinModule<typeof Fs>('node:fs/promises');
    if (!fs) throw new InvalidCertificateError('E2E_CERTIFICATE_PATH is set, but this runtime has no file system');
    try {
      return await fs.readFile(path, 'utf8');
    } catch (error) {
      throw new InvalidCertificateError(
        `cannot read the certificate named by E2E_CERTIFICATE_PATH (${path}): ${(error as Error).message}`,
        { cause: error },
      );
    }
  };
}

/** Whether an answer's content type is an event stream. */
export function isEventStream(contentType: string | null | undefined): boolean {
  return typeof contentType === 'string' && contentType.toLowerCase().includes('text/event-stream');
}
