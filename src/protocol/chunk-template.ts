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

/** What a template keeps of the chunk it was learnt from. */
interface Learnt {
  /** The chunk's text up to and including the quote that opens its ciphertext. */
  readonly head: string;
  /** Its text from the quote that closes the ciphertext on. */
  readonly tail: string;
  /** `head` and `tail` without those quotes: what goes around the plaintext's JSON string. */
  readonly headOut: string;
  readonly tailOut: string;
  readonly where: { readonly choiceIndex: number; readonly field: string };
}

export class ChunkTemplate {
  private template: Learnt | undefined;
  private learnt = 0;

  /**
   * The decrypted data of a chunk that matches the template, as decryptEventData would give it
   * (and throwing what it would throw); `undefined` when it does not match.
   */
  decrypt(data: string, session: Session): string | undefined {
    const { template } = this;
    if (template === undefined) return undefined;
    const { head, tail } = template;
    // Stryker disable next-line ConditionalExpression,EqualityOperator,ArithmeticOperator: a shortcut; a shorter text fails the comparisons below, one of exactly this length leaves an empty ciphertext, which the alphabet test refuses
    if (data.length <= head.length + tail.length) return undefined;
    // Slices compared, not startsWith/endsWith: V8's are several times slower on these lengths.
    if (data.slice(0, head.length) !== head || data.slice(data.length - tail.length) !== tail) return undefined;
    const ciphertext = data.slice(head.length, data.length - tail.length);
    if (!BASE64_CHARACTERS.test(ciphertext)) return undefined;
    return template.headOut + JSON.stringify(decryptPieces(ciphertext, session, template.where)) + template.tailOut;
  }

  /**
   * Learns from a chunk the slow way has just decrypted: `data` as it came, `chunk` its parse,
   * `decrypted` the result, `out` its serialisation. Keeps the current template when the chunk
   * cannot be one.
   */
  learn(data: string, chunk: JsonObject, decrypted: JsonObject, out: string): void {
    if (this.learnt >= MAX_LEARNT || data.length > MAX_TEMPLATE_CHARS) return;
    // Nothing was decrypted (the plain text of a content_filter chunk): no ciphertext to learn around.
    // Stryker disable next-line ConditionalExpression: decryptEventData calls learn only for a chunk it changed; kept so that this method does not rest on that
    if (decrypted === chunk) return;
    const found = encryptedText(chunk);
    if (found === undefined) return;
    this.learnt++;
    // What the argument above rests on. The output check below has refused every non-canonical
    // chunk tried so far as well, but it alone does not prove the head and tail are the right ones.
    // Stryker disable next-line ConditionalExpression,BlockStatement: see above
    if (JSON.stringify(chunk) !== data) return;
    const quoted = `"${found.text}"`;
    const at = data.indexOf(quoted);
    // Stryker disable next-line ConditionalExpression,LogicalOperator,EqualityOperator,UnaryOperator,Regex,BooleanLiteral: a canonical chunk writes its text unescaped, and the slow way has just opened it as base64, so neither refusal can happen; kept because the argument above names them
    if (at === -1 || !BASE64_CHARACTERS.test(found.text)) return;
    if (data.indexOf(quoted, at + 1) !== -1) return;
    const head = data.slice(0, at + 1);
    const tail = data.slice(at + 1 + found.text.length);
    const headOut = head.slice(0, -1);
    const tailOut = tail.slice(1);
    // The output the template would give for this very chunk must be what the slow way gave.
    const plain = ((decrypted.choices as JsonObject[])[0]!.delta as JsonObject)[found.field];
    if (headOut + JSON.stringify(plain) + tailOut !== out) return;
    this.template = { head, tail, headOut, tailOut, where: { choiceIndex: found.choiceIndex, field: found.field } };
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
  // Stryker disable next-line ConditionalExpression,LogicalOperator: such a choice was not decrypted, so learn() has returned at `decrypted === chunk` already
  if (!isJsonObject(choice) || !isJsonObject(choice.delta)) return undefined;
  const delta = choice.delta;
  let found: { text: string; field: string } | undefined;
  for (const field of FIELDS) {
    const value = delta[field];
    if (typeof value !== 'string' || value === '') continue;
    if (found !== undefined) return undefined;
    found = { text: value, field };
  }
  // Stryker disable next-line ConditionalExpression: a chunk without a text was not decrypted, so learn() has returned at `decrypted === chunk` already
  if (found === undefined) return undefined;
  return { ...found, choiceIndex: typeof choice.index === 'number' ? choice.index : 0 };
}
