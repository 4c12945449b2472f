/**
 * ChunkTemplate: the chunks of a streamed answer, one after the other, differ in one ciphertext
 * only (`id`, `created`, `model`, the choice's other members stay the same), so once one chunk has
 * been parsed, checked and decrypted the slow way, the next ones that have exactly its text
 * around their ciphertext are decrypted without being parsed and serialised again. The output is
 * the same text, to the byte, that the slow way gives (decryptEventData in event-stream.ts);
 * the argument, in short:
 *
 * A template is learnt only from a chunk `R` that is canonical: `JSON.stringify(JSON.parse(R))`
 * is `R` itself (so `R` has no member named twice, no escape and no blank a serialisation would
 * not make), with one choice, whose delta has one non-empty encrypted text `V`, the only place
 * where `"V"` occurs in `R`. `R` is `head + V + tail`, `head` ending with the quote that opens
 * `V`. A chunk `D = head + M + tail` with `M` made of base64 characters only (no quote, no
 * backslash, no control character: it cannot end the string or escape anything) parses to the
 * same object as `R` with `M` in the place of `V`, since every token outside that string is the
 * same. So the slow way would run the same checks on the same members with the same results
 * (those depend on the members, not on the ciphertext), decrypt `M` with the same call, and give
 * `JSON.stringify` of `R`'s object with the plaintext in `V`'s place: `head` without its quote,
 * the plaintext as a JSON string, `tail` without its quote. A chunk of any other form (a role, a
 * finish reason, a member added or named twice, a blank, an escape) does not match and takes the
 * slow way. test/protocol/chunk-template.test.ts checks both ways agree on generated streams.
 */
import { decryptPieces } from './pieces.js';
import { isJsonObject, type JsonObject } from './json.js';
import type { Session } from './session.js';

/** Nothing but the base64 alphabet and its padding: never a quote, a backslash or a control character. */
const BASE64_CHARACTERS = /^[A-Za-z0-9+/=]+$/;
/**
 * Learning costs one extra `JSON.stringify` of the chunk; a stream whose chunks never match
 * (a member that changes every time) stops trying after this many.
 */
const MAX_LEARNT = 16;
/**
 * Only chunks up to this long are learnt from: the parse a template saves matters beside a short
 * ciphertext, not a long one, and the template's head and tail are kept as slices of the text
 * they came from (an engine keeps that text alive with them) for as long as the stream lasts.
 */
const MAX_TEMPLATE_CHARS = 4096;

const FIELDS = ['content', 'reasoning_content'] as const;

export class ChunkTemplate {
  /** The template's text up to and including the quote that opens its ciphertext; '' when none. */
  private head = '';
  /** Its text from the quote that closes the ciphertext on. */
  private tail = '';
  private headOut = '';
  private tailOut = '';
  private where: { choiceIndex: number; field: string } = { choiceIndex: 0, field: 'content' };
  private learnt = 0;

  /**
   * The decrypted data of a chunk that matches the template, as decryptEventData would give it
   * (and throwing what it would throw); `undefined` when it does not match.
   */
  decrypt(data: string, session: Session): string | undefined {
    const { head, tail } = this;
    if (head === '' || data.length <= head.length + tail.length) return undefined;
    // Slices compared, not startsWith/endsWith: V8's are several times slower on these lengths.
    if (data.slice(0, head.length) !== head || data.slice(data.length - tail.length) !== tail) return undefined;
    const ciphertext = data.slice(head.length, data.length - tail.length);
    if (!BASE64_CHARACTERS.test(ciphertext)) return undefined;
    return this.headOut + JSON.stringify(decryptPieces(ciphertext, session, this.where)) + this.tailOut;
  }

  /**
   * Learns from a chunk the slow way has just decrypted: `data` as it came, `chunk` its parse,
   * `decrypted` the result, `out` its serialisation. Keeps the current template when the chunk
   * cannot be one.
   */
  learn(data: string, chunk: JsonObject, decrypted: JsonObject, out: string): void {
    if (this.learnt >= MAX_LEARNT || decrypted === chunk || data.length > MAX_TEMPLATE_CHARS) return;
    const found = encryptedText(chunk);
    if (found === undefined) return;
    this.learnt++;
    // What the argument above rests on. The output check below has refused every non-canonical
    // chunk tried so far as well, but it alone does not prove the head and tail are the right ones.
    // Stryker disable next-line ConditionalExpression,BlockStatement: see above
    if (JSON.stringify(chunk) !== data) return;
    const quoted = `"${found.text}"`;
    const at = data.indexOf(quoted);
    if (at === -1 || data.indexOf(quoted, at + 1) !== -1 || !BASE64_CHARACTERS.test(found.text)) return;
    const head = data.slice(0, at + 1);
    const tail = data.slice(at + 1 + found.text.length);
    const headOut = head.slice(0, -1);
    const tailOut = tail.slice(1);
    // The output the template would give for this very chunk must be what the slow way gave.
    const plain = ((decrypted.choices as JsonObject[])[0]!.delta as JsonObject)[found.field];
    if (headOut + JSON.stringify(plain) + tailOut !== out) return;
    this.head = head;
    this.tail = tail;
    this.headOut = headOut;
    this.tailOut = tailOut;
    this.where = { choiceIndex: found.choiceIndex, field: found.field };
  }
}

/**
 * The one encrypted text of a chunk with a single choice whose delta has exactly one non-empty
 * encrypted text, and where it is; `undefined` for any other chunk.
 */
function encryptedText(chunk: JsonObject): { text: string; field: string; choiceIndex: number } | undefined {
  const { choices } = chunk;
  if (!Array.isArray(choices) || choices.length !== 1) return undefined;
  const choice: unknown = choices[0];
  if (!isJsonObject(choice) || !isJsonObject(choice.delta)) return undefined;
  const delta = choice.delta;
  let found: { text: string; field: string } | undefined;
  for (const field of FIELDS) {
    const value = delta[field];
    if (typeof value !== 'string' || value === '') continue;
    if (found !== undefined) return undefined;
    found = { text: value, field };
  }
  if (found === undefined) return undefined;
  return { ...found, choiceIndex: typeof choice.index === 'number' ? choice.index : 0 };
}
