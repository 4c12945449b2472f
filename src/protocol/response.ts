/**
 * decryptChatCompletion: a non-streamed chat completion answer → the same with its contents
 * decrypted (protocol §5). The input is never mutated; unchanged parts are shared, not copied.
 */
import { FINISH_REASON_CONTENT_FILTER } from './constants.js';
import { isJsonObject, type JsonObject } from './json.js';
import { decryptPieces, openPieces } from './pieces.js';
import type { Session } from './session.js';

/**
 * `reasoning_content` is decrypted where it authenticates under the session key and left as it
 * is otherwise: thinking models may send it in plain text, and the official SDKs ignore it.
 */
export function decryptReasoning(text: string, session: Session): string {
  const result = openPieces(text, session);
  return Array.isArray(result) ? result.join('') : text;
}

/** One message or delta object with `content` (and `reasoning_content`) decrypted. */
export function decryptMessageFields(
  message: JsonObject,
  session: Session,
  choiceIndex: number,
): JsonObject {
  const { content, reasoning_content: reasoning } = message;
  const hasContent = typeof content === 'string' && content !== '';
  const hasReasoning = typeof reasoning === 'string' && reasoning !== '';
  if (!hasContent && !hasReasoning) return message;
  const out: JsonObject = { ...message };
  if (hasContent) out.content = decryptPieces(content, session, { choiceIndex });
  if (hasReasoning) out.reasoning_content = decryptReasoning(reasoning, session);
  return out;
}

/** Decrypts every choice of a chat completion (or chunk) under `field` ('message' | 'delta'). */
export function decryptChoices(body: JsonObject, session: Session, field: 'message' | 'delta'): JsonObject {
  const { choices } = body;
  if (!Array.isArray(choices) || choices.length === 0) return body;
  let changed = false;
  const decrypted = choices.map((choice: unknown, position) => {
    if (!isJsonObject(choice) || choice.finish_reason === FINISH_REASON_CONTENT_FILTER) return choice;
    const message = choice[field];
    if (!isJsonObject(message)) return choice;
    const index = typeof choice.index === 'number' ? choice.index : position;
    const next = decryptMessageFields(message, session, index);
    if (next === message) return choice;
    changed = true;
    return { ...choice, [field]: next };
  });
  return changed ? { ...body, choices: decrypted } : body;
}

/** A chat completion with every choice's `message.content` decrypted (protocol §5). */
export function decryptChatCompletion<T>(body: T, session: Session): T {
  if (!isJsonObject(body)) return body;
  const decrypted = decryptChoices(body, session, 'message');
  return (decrypted === body ? { ...body } : decrypted) as T;
}
