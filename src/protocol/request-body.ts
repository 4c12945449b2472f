/**
 * The body of a chat completion request as text and back (protocol §4): strict UTF-8, a JSON
 * object with a string `model` and a `messages` array, and a JSON text again once encrypted.
 * Every way these fail is a typed refusal: nothing about a body we could not read exactly is
 * ever sent.
 */
import { UnsupportedContentError, UnsupportedRequestError } from '../errors.js';
import { isJsonObject, type JsonObject } from './json.js';

/** Not `fatal: false`: a repaired body (U+FFFD for bad bytes) is not the text the caller wrote. */
const decoder = new TextDecoder('utf-8', { fatal: true });

/** A request body given as bytes, decoded; bytes that are not UTF-8 are refused, not repaired. */
export function requestBodyText(bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new UnsupportedRequestError(
      'the body of a request with encryption on is not valid UTF-8; it would reach the service ' +
        'changed, so nothing was sent. Send the JSON body encoded as UTF-8',
    );
  }
}

/** A JSON value whose nesting is deeper than the engine's stack, or that is not JSON at all. */
function notSerialisable(error: unknown): UnsupportedContentError {
  const why = error instanceof RangeError ? 'is nested too deeply to serialise' : `cannot be serialised as JSON (${(error as Error).message})`;
  return new UnsupportedContentError(`the request body ${why}; nothing was sent`, { messageIndex: -1 });
}

/** `JSON.stringify`, with its failures (too deep, a BigInt, a cycle) as a typed refusal. */
export function stringifyRequestBody(body: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(body);
  } catch (error) {
    throw notSerialisable(error);
  }
  if (text === undefined) throw notSerialisable(new TypeError('it serialises to nothing'));
  return text;
}

/**
 * Whether `value` is already what `JSON.parse(JSON.stringify(value))` gives back: strings,
 * finite numbers, booleans, null, arrays and plain objects, with no `toJSON`, no `undefined`,
 * function, symbol or BigInt member. Throws RangeError when nested deeper than the stack.
 */
function isPlainJson(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0);
    case 'object': {
      if (value === null) return true;
      if (Array.isArray(value)) {
        if (Object.getPrototypeOf(value) !== Array.prototype || 'toJSON' in value) return false;
        for (let i = 0; i < value.length; i++) if (!isPlainJson(value[i])) return false;
        return true;
      }
      const prototype = Object.getPrototypeOf(value) as unknown;
      if ((prototype !== Object.prototype && prototype !== null) || 'toJSON' in value) return false;
      for (const key of Object.keys(value)) if (!isPlainJson((value as Record<string, unknown>)[key])) return false;
      return true;
    }
    // Stryker disable next-line ConditionalExpression: an emptied default returns undefined, which every caller reads as not plain, as it reads false
    default:
      return false;
  }
}

/**
 * What `JSON.stringify` will send for `body`, as plain JSON data: `toJSON` methods applied (on
 * the body, a message, a part), `undefined` and functions dropped. Encrypting this, not the
 * object's own fields, is what makes the ciphertexts match what goes on the wire. A body that
 * is plain JSON data already (the usual case) is returned as it is, without a copy.
 */
export function asSentJson(body: unknown): unknown {
  try {
    if (isPlainJson(body)) return body;
  } catch {
    // Too deep (or a cycle) for the walk: JSON.stringify below says which, as a typed refusal.
  }
  const text = stringifyRequestBody(body);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw notSerialisable(error);
  }
}

export interface ChatRequestBody {
  body: JsonObject;
  model: string;
}

/** A chat completion body: a JSON object with a string `model` and a `messages` array. */
export function parseChatRequestBody(text: string): ChatRequestBody {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    if (error instanceof RangeError) throw notSerialisable(error);
    body = undefined;
  }
  if (!isJsonObject(body) || !Array.isArray(body.messages) || typeof body.model !== 'string') {
    throw new UnsupportedRequestError(
      'a request with encryption on must have a JSON chat completion body with a string "model" ' +
        'and a "messages" array; nothing was sent',
    );
  }
  return { body, model: body.model };
}
