/**
 * encryptChatRequestAsync / encryptChatRequestJsonAsync: encryptChatRequest and
 * encryptChatRequestJson (request.ts, protocol §4) with their large texts
 * (base64 images, long documents) sealed on WebCrypto where the session's backend is not Node's,
 * so a browser or a worker does not spend ~150 ms of main-thread CPU per 5 MB image on noble's
 * AES-GCM. Same result byte for byte, same refusals, same warnings.
 *
 * It runs the synchronous function itself, through a session whose encryptText leaves a unique marker
 * for each large text; the markers are then replaced by the WebCrypto ciphertexts. So which
 * parts are encrypted, refused or warned about is decided in one place only.
 */
import { webCryptoSealTextToBase64, webCryptoSubtle } from '../crypto/webcrypto-seal.js';
import { ArkE2EEError } from '../errors.js';
import type { JsonObject } from './json.js';
import { encryptChatRequest, encryptChatRequestJson, type EncryptRequestOptions } from './request.js';
import type { Session } from './session.js';

/** Texts at least this long (UTF-16 code units) go to WebCrypto: below it, noble is quicker than the round trip. */
export const WEBCRYPTO_MIN_TEXT_LENGTH = 64 * 1024;

export interface EncryptRequestAsyncOptions extends EncryptRequestOptions {
  /** Texts at least this long are sealed on WebCrypto (default WEBCRYPTO_MIN_TEXT_LENGTH). */
  webCryptoMinLength?: number;
}

/** Whether texts of this session are worth sending to WebCrypto at all. */
function usesWebCrypto(session: Session): boolean {
  // node:crypto is native and synchronous already: WebCrypto would only add a thread hop.
  return session.backend.name !== 'node' && webCryptoSubtle() !== undefined;
}

function randomTag(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** encryptChatRequest's result (the request body with every message content encrypted, protocol §4), the same bytes. */
export function encryptChatRequestAsync<T>(body: T, session: Session, options: EncryptRequestAsyncOptions = {}): Promise<T> {
  return withWebCrypto(session, options, (through) => encryptChatRequest(body, through, options));
}

/** encryptChatRequestJson's result (for the transports, which parse the body themselves), the same bytes. */
export function encryptChatRequestJsonAsync(body: JsonObject, session: Session, options: EncryptRequestAsyncOptions = {}): Promise<JsonObject> {
  return withWebCrypto(session, options, (through) => encryptChatRequestJson(body, through, options));
}

/** Runs `encrypt` through a session that sets large texts aside, then seals those on WebCrypto. */
async function withWebCrypto<T>(session: Session, options: EncryptRequestAsyncOptions, encrypt: (through: Session) => T): Promise<T> {
  if (!usesWebCrypto(session)) return encrypt(session);
  const minLength = options.webCryptoMinLength ?? WEBCRYPTO_MIN_TEXT_LENGTH;

  // A NUL and 128 random bits: no ciphertext (base64) and no text a caller sends as it is can be
  // one, and a text that were one would still be taken only at the exact places encrypted.
  const prefix = `\u0000ark-e2ee-webcrypto-${randomTag()}-`;
  const deferred: string[] = [];
  const deferring: Session = Object.freeze({
    ...session,
    encryptText(text: string): string {
      if (text.length < minLength) return session.encryptText(text);
      deferred.push(text);
      return `${prefix}${deferred.length - 1}`;
    },
  });
  const marked = encrypt(deferring);
  if (deferred.length === 0) return marked;

  const sealed = await Promise.all(
    deferred.map((text) =>
      // WebCrypto refusing (a runtime without AES-GCM, a policy) costs speed, never encryption.
      webCryptoSealTextToBase64(session.key, session.nonce, text).catch(() => session.encryptText(text)),
    ),
  );
  let replaced = 0;
  const replace = (value: string): string => {
    if (!value.startsWith(prefix)) return value;
    const ciphertext = sealed[Number(value.slice(prefix.length))];
    if (ciphertext === undefined) throw new ArkE2EEError(`internal error: an unknown marker in the request; nothing was sent`);
    replaced++;
    return ciphertext;
  };
  const result = replaceMarkers(marked, replace);
  // Every text set aside must be back, as ciphertext, or nothing is sent.
  if (replaced !== deferred.length) {
    throw new ArkE2EEError(`internal error: ${deferred.length} texts were set aside for WebCrypto but ${replaced} put back; nothing was sent`);
  }
  return result as T;
}

/**
 * The encrypted body with its markers replaced, exactly where encryptChatRequest puts
 * ciphertexts: a message's content string, a text part's text, an image part's url. Objects are
 * copied where something changes, never modified (some are the caller's own, passed through).
 */
function replaceMarkers(body: unknown, replace: (value: string) => string): unknown {
  const swap = <O extends Record<string, unknown>>(object: O, key: string): O => {
    const value = object[key];
    if (typeof value !== 'string') return object;
    const next = replace(value);
    return next === value ? object : { ...object, [key]: next };
  };
  const part = (item: unknown): unknown => {
    if (typeof item !== 'object' || item === null) return item;
    const withText = swap(item as Record<string, unknown>, 'text');
    const image = withText.image_url;
    if (typeof image !== 'object' || image === null) return withText;
    const url = swap(image as Record<string, unknown>, 'url');
    return url === image ? withText : { ...withText, image_url: url };
  };
  const object = body as Record<string, unknown> & { messages: unknown[] };
  const messages = object.messages.map((message) => {
    // Stryker disable next-line ConditionalExpression,LogicalOperator: every message here is encryptMessage's result, which is an object (it refuses any other), so the check never returns
    if (typeof message !== 'object' || message === null) return message;
    const m = message as Record<string, unknown>;
    if (typeof m.content === 'string') return swap(m, 'content');
    if (!Array.isArray(m.content)) return m;
    const parts = m.content.map(part);
    return parts.every((p, i) => p === (m.content as unknown[])[i]) ? m : { ...m, content: parts };
  });
  return { ...object, messages };
}
