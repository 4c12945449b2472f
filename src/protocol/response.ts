/**
 * decryptChatCompletion: a non-streamed chat completion answer → the same with its contents
 * decrypted (protocol §5). The input is never mutated; unchanged parts are shared, not copied.
 *
 * Only authenticated text reaches the caller: a text field that should be a ciphertext and is
 * not a string, a text field the protocol does not encrypt at all, and content after a choice's
 * plain `content_filter` text are errors, never passed on.
 */
import { DecryptionFailedError, EventStreamError } from '../errors.js';
import { FINISH_REASON_CONTENT_FILTER } from './constants.js';
import { isJsonObject, jsonTypeName, type JsonObject } from './json.js';
import { decryptPieces } from './pieces.js';
import type { Session } from './session.js';

/** The fields of a message or delta that carry encrypted text (protocol §5). */
const ENCRYPTED_FIELDS = ['content', 'reasoning_content'] as const;
type EncryptedField = (typeof ENCRYPTED_FIELDS)[number];

/**
 * Fields a client shows as the model's words that the protocol does not encrypt: `refusal` and
 * `audio` (openai's message and delta), `reasoning` (read by the Vercel AI SDK's
 * openai-compatible provider beside `reasoning_content`). The service does not send them with
 * encryption on, so an answer that carries one was made by someone else: refused, not removed,
 * so that a caller never mistakes a shortened answer for the whole.
 */
const UNAUTHENTICATED_FIELDS = ['refusal', 'reasoning', 'audio'] as const;

/** Text passed on in plain because the protocol sends it so: `content_filter` choices (§5). */
export interface PlainTextNotice {
  /** The choice's `index` (its position when it has none). */
  choiceIndex: number;
  field: EncryptedField;
  /** The text exactly as it came: nothing vouches for it. */
  text: string;
  reason: 'content_filter';
}

export interface DecryptChoicesOptions {
  /** Called for each plain text passed on (synchronously, in answer order). */
  onPlainText?: (notice: PlainTextNotice) => void;
  /**
   * Streamed answers: the indexes of the choices that have had their `content_filter` chunk,
   * kept from chunk to chunk. Content for such a choice in a later chunk is an error (§5).
   * When present, errors are `EventStreamError`s; otherwise `DecryptionFailedError`s.
   */
  filtered?: Set<number>;
}

function refuse(options: DecryptChoicesOptions, message: string, choiceIndex: number): never {
  if (options.filtered !== undefined) throw new EventStreamError(message);
  throw new DecryptionFailedError(message, { choiceIndex });
}

/** Whether a value counts as text being there: anything but absent, `null` and `""`. */
function carries(value: unknown): boolean {
  return value !== undefined && value !== null && value !== '';
}

/** Refuses a text field of a wrong JSON type and any field the protocol leaves unencrypted. */
function checkFields(message: JsonObject, choiceIndex: number, options: DecryptChoicesOptions): void {
  for (const field of ENCRYPTED_FIELDS) {
    const value = message[field];
    if (value !== undefined && value !== null && typeof value !== 'string') {
      refuse(
        options,
        `the ${field} of choice ${choiceIndex} is a JSON ${jsonTypeName(value)} where the protocol ` +
          'allows only an encrypted string: it was not sent by the service, and is not trusted',
        choiceIndex,
      );
    }
  }
  for (const field of UNAUTHENTICATED_FIELDS) {
    if (carries(message[field])) {
      refuse(
        options,
        `choice ${choiceIndex} carries a "${field}", a text the protocol does not encrypt, in an ` +
          'answer to an encrypted request: it cannot be authenticated, so the answer is not trusted',
        choiceIndex,
      );
    }
  }
}

/** One message or delta object with `content` and `reasoning_content` decrypted. */
export function decryptMessageFields(message: JsonObject, session: Session, choiceIndex: number): JsonObject {
  let out: JsonObject | undefined;
  for (const field of ENCRYPTED_FIELDS) {
    const value = message[field];
    // `""` is the text of nothing, in plain: allowed, as an absent or null one (§5).
    if (typeof value !== 'string' || value === '') continue;
    out ??= { ...message };
    out[field] = decryptPieces(value, session, { choiceIndex, field });
  }
  return out ?? message;
}

/** A `content_filter` choice: plain by protocol, passed on as it came and reported. */
function passFiltered(message: JsonObject, choiceIndex: number, options: DecryptChoicesOptions): void {
  options.filtered?.add(choiceIndex);
  for (const field of ENCRYPTED_FIELDS) {
    const text = message[field];
    if (typeof text === 'string' && text !== '') options.onPlainText?.({ choiceIndex, field, text, reason: 'content_filter' });
  }
}

/** Decrypts every choice of a chat completion (or chunk) under `field` ('message' | 'delta'). */
export function decryptChoices(
  body: JsonObject,
  session: Session,
  field: 'message' | 'delta',
  options: DecryptChoicesOptions = {},
): JsonObject {
  const { choices } = body;
  if (!Array.isArray(choices) || choices.length === 0) return body;
  let changed = false;
  const decrypted = choices.map((choice: unknown, position) => {
    if (!isJsonObject(choice)) return choice;
    const message = choice[field];
    if (!isJsonObject(message)) return choice;
    const index = typeof choice.index === 'number' ? choice.index : position;
    checkFields(message, index, options);
    if (options.filtered?.has(index) && ENCRYPTED_FIELDS.some((name) => carries(message[name]))) {
      refuse(
        options,
        `choice ${index} has content after its plain content_filter text, which must be its last ` +
          'content (protocol §5): text was slipped into the answer, so nothing after this point is trusted',
        index,
      );
    }
    if (choice.finish_reason === FINISH_REASON_CONTENT_FILTER) {
      passFiltered(message, index, options);
      return choice;
    }
    const next = decryptMessageFields(message, session, index);
    if (next === message) return choice;
    changed = true;
    return { ...choice, [field]: next };
  });
  return changed ? { ...body, choices: decrypted } : body;
}

/** A chat completion with every choice's `message.content` decrypted (protocol §5). */
export function decryptChatCompletion<T>(
  body: T,
  session: Session,
  options: { onPlainText?: (notice: PlainTextNotice) => void } = {},
): T {
  if (!isJsonObject(body)) return body;
  const decrypted = decryptChoices(body, session, 'message', { onPlainText: options.onPlainText });
  return (decrypted === body ? { ...body } : decrypted) as T;
}
