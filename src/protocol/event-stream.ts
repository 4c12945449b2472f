/**
 * decryptEventStream: a streamed chat completion (`text/event-stream`) in, the same stream with
 * every chunk's contents decrypted out, as it flows (protocol §5).
 *
 * Input may be cut anywhere (inside a line, inside a UTF-8 character); any of LF, CRLF and CR
 * end lines. SSE parsing is eventsource-parser's; we re-emit each event with LF line endings,
 * keeping comments, `event:`, `id:` and `retry:` fields. An event whose data carries nothing to
 * decrypt is re-emitted with its data exactly as it came. A slow reader slows the source, and a
 * cancel reaches it (see decryptEventStream).
 */
import { createParser, type EventSourceMessage, type EventSourceParser } from 'eventsource-parser';
import { AnswerTooLargeError, ArkE2EEError, EventStreamError, InvalidOptionError } from '../errors.js';
import { ChunkTemplate } from './chunk-template.js';
import { isJsonObject } from './json.js';
import { decryptChoices, type DecryptChoicesOptions, type PlainTextNotice } from './response.js';
import type { Session } from './session.js';

const DONE = '[DONE]';

/** Default of `maxEventBytes`: one line or event of an answer stream (16 MiB). */
export const DEFAULT_MAX_EVENT_BYTES = 16 * 1024 * 1024;

export interface EventStreamOptions {
  /**
   * The longest line or event the stream may hold before it ends, counted in characters of the
   * decoded text (bytes, for the ASCII an encrypted stream is made of; at most 3 bytes each
   * otherwise). Longer is an `AnswerTooLargeError`: a server cannot make the client buffer
   * without end. Default 16 MiB.
   */
  maxEventBytes?: number;
  /** Called for each plain `content_filter` text passed on (see `PlainTextNotice`). */
  onPlainText?: (notice: PlainTextNotice) => void;
}

/**
 * A size limit option: a whole number ≥ 1, or `Infinity` for none. Anything else (NaN, a
 * negative, a string) would silently mean no limit in a comparison, so it is refused up front.
 */
export function sizeLimit(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (value === Number.POSITIVE_INFINITY || (Number.isInteger(value) && value >= 1)) return value;
  throw new InvalidOptionError(`${name} must be a whole number ≥ 1 (or Infinity for no limit), got ${String(value)}`);
}

/**
 * What decryptEventData keeps from one event to the next: the choices that have had their
 * content_filter chunk (protocol §5: content after it is an error), and the stream's chunk
 * template, when it has one.
 */
export type EventState = DecryptChoicesOptions & { filtered: Set<number>; template?: ChunkTemplate };

/** The data of one event after decryption: `[DONE]` and untouched chunks exactly as they came. */
export function decryptEventData(
  data: string,
  session: Session,
  state: EventState = { filtered: new Set() },
): string {
  if (data === DONE) return data;
  // A chunk like the last one but for its ciphertext: the same result without a parse
  // (chunk-template.ts). Not once a choice has had its content_filter chunk.
  const template = state.filtered.size === 0 ? state.template : undefined;
  const quick = template?.decrypt(data, session);
  if (quick !== undefined) return quick;
  let chunk: unknown;
  try {
    chunk = JSON.parse(data);
  } catch {
    throw new EventStreamError(
      'an event of the answer stream carries data that is neither JSON nor [DONE]; the stream ' +
        'is not a chat completion stream, so nothing after this point is trusted',
    );
  }
  if (!isJsonObject(chunk)) return data;
  const decrypted = decryptChoices(chunk, session, 'delta', state);
  if (decrypted === chunk) return data;
  const out = JSON.stringify(decrypted);
  template?.learn(data, chunk, decrypted, out);
  return out;
}

function serializeEvent(event: EventSourceMessage, data: string): string {
  // The usual event, one data line and no other field, without the split and the concatenations.
  if (event.event === undefined && event.id === undefined && !data.includes('\n')) return `data: ${data}\n\n`;
  let out = '';
  if (event.event !== undefined) out += `event: ${event.event}\n`;
  if (event.id !== undefined) out += `id: ${event.id}\n`;
  for (const line of data.split('\n')) out += `data: ${line}\n`;
  return `${out}\n`;
}

/** An incremental SSE decrypter: text in, text out; `end()` checks the stream ended cleanly. */
export class EventStreamDecrypter {
  private readonly parser: EventSourceParser;
  private output = '';
  private failure: unknown;
  private ending = false;
  // Stryker disable next-line BooleanLiteral: true only makes an end() with nothing (or only '') pushed feed one more '\n', a blank line with no event before it, which dispatches nothing
  private endedWithCarriageReturn = false;
  private events = 0;
  /** Characters fed since the last line end of the chunk that dispatched the last event (see checkSize). */
  private sinceEvent = 0;
  private readonly maxEventBytes: number;
  private readonly state: EventState;
  /**
   * Plain content_filter text may only be the last content of its choice (§5), which is known
   * only at the end: from the first such event on, the output is held back, and given out at a
   * clean end, or dropped when a later event breaks the rule. A spliced-in plain text never
   * reaches the caller, even for a moment.
   */
  private held = '';
  private holding = false;
  private readonly notices: PlainTextNotice[] = [];
  private readonly onPlainText: ((notice: PlainTextNotice) => void) | undefined;

  constructor(
    private readonly session: Session,
    options: EventStreamOptions = {},
  ) {
    this.maxEventBytes = sizeLimit('maxEventBytes', options.maxEventBytes, DEFAULT_MAX_EVENT_BYTES);
    this.onPlainText = options.onPlainText;
    this.state = { filtered: new Set(), onPlainText: (notice) => this.notices.push(notice), template: new ChunkTemplate() };
    this.parser = createParser({
      onEvent: (event) => this.onEvent(event),
      onComment: (comment) => this.write(`: ${comment}\n`),
      onRetry: (retry) => this.write(`retry: ${retry}\n`),
    });
  }

  private write(text: string): void {
    if (this.failure !== undefined) return;
    if (!this.holding) {
      this.output += text;
      return;
    }
    this.held += text;
    if (this.held.length > this.maxEventBytes) {
      this.failure = new AnswerTooLargeError(
        `the answer stream went on for more than ${this.maxEventBytes} characters (maxEventBytes) ` +
          'after a plain content_filter text, which is held back until the end; the stream was stopped',
        { limit: this.maxEventBytes },
      );
    }
  }

  private onEvent(event: EventSourceMessage): void {
    if (this.failure !== undefined) return;
    if (this.ending) {
      this.failure = new EventStreamError(
        'the answer stream ended inside an event (no blank line after its last field); the ' +
          'connection was probably cut, so the answer is incomplete',
      );
      return;
    }
    // Stryker disable next-line UpdateOperator: counting down also changes the count in push() and leaves it at 0 only when no event came, the two things it is read for
    this.events++;
    let text: string;
    try {
      text = serializeEvent(event, decryptEventData(event.data, this.session, this.state));
    } catch (error) {
      this.failure = error;
      return;
    }
    if (this.notices.length > 0) this.holding = true;
    this.write(text);
  }

  private take(): string {
    // On failure the text complete before it stays here, for `drain()`.
    if (this.failure !== undefined) throw this.failure;
    return this.drain();
  }

  /** The text complete so far; after `push` or `end` threw, what came before the failure. */
  drain(): string {
    const out = this.output;
    this.output = '';
    return out;
  }

  /**
   * Refuses a line or an event that has grown past the limit. An event is counted from the last
   * line end of the chunk in which the last one was dispatched: that chunk's complete lines after
   * the event go uncounted, so the parser never holds more than the limit and one chunk, which
   * the caller held already. A line is part of its event, so no line can pass the limit either.
   */
  private checkSize(text: string, dispatched: boolean): void {
    if (dispatched) {
      // A chunk that ends an event has a line end. The last LF or CR; a CR after the last LF is
      // looked for forwards: lastIndexOf('\r') would scan the whole text of an LF-only stream.
      const lastLf = text.lastIndexOf('\n');
      const lastLineEnd = text.indexOf('\r', lastLf + 1) === -1 ? lastLf : text.lastIndexOf('\r');
      this.sinceEvent = text.length - lastLineEnd - 1;
    } else {
      this.sinceEvent += text.length;
    }
    if (this.sinceEvent > this.maxEventBytes) {
      this.failure ??= new AnswerTooLargeError(
        `a line or event of the answer stream is longer than ${this.maxEventBytes} characters ` +
          '(maxEventBytes) without ending; the stream was stopped. Raise maxEventBytes if answers ' +
          'this large are expected',
        { limit: this.maxEventBytes },
      );
    }
  }

  /** Feeds decoded text; returns the decrypted text that is complete so far. */
  push(text: string): string {
    if (text === '' || this.failure !== undefined) return this.take();
    this.endedWithCarriageReturn = text.charCodeAt(text.length - 1) === 13;
    const events = this.events;
    this.parser.feed(text);
    this.checkSize(text, this.events !== events);
    return this.take();
  }

  /** Ends the stream; throws when it stopped inside an event. */
  end(): string {
    // A trailing CR is a line end the parser holds back in case LF follows: settle it first.
    if (this.endedWithCarriageReturn) this.parser.feed('\n');
    // A complete stream ends with a blank line, so two more line ends dispatch nothing.
    // Anything they do dispatch was an event the stream left unfinished.
    this.ending = true;
    this.parser.feed('\n\n');
    if (this.failure === undefined && this.events === 0) {
      // A JSON body under this content type, or nothing: not a chat stream (README, §8).
      this.failure = new EventStreamError(
        'the answer came as an event stream but held no event (an empty body, or JSON under ' +
          'text/event-stream): it is not a chat completion stream, so it is not trusted',
      );
    }
    if (this.failure === undefined && this.holding) {
      // A clean end: the plain content_filter text was the last content after all.
      this.output += this.held;
      // Stryker disable next-line StringLiteral: held is read only while holding, which ends on the next line for good (an event after end() fails); emptying it lets the text go
      this.held = '';
      this.holding = false;
      for (const notice of this.notices.splice(0)) this.onPlainText?.(notice);
    }
    return this.take();
  }
}

/**
 * The answer stream with every chunk's contents decrypted, as it flows.
 *
 * A pull source over the input's reader rather than `pipeThrough(new TransformStream())`: the
 * transform's writable side, its queue and the pipe cost ~4 µs per chunk, as much as decrypting
 * the chunk; pulling costs ~1 µs. With a high-water mark of 0 the source is read only when the
 * output is (backpressure), and cancelling the output cancels the source with the reason.
 */
/**
 * The error of a source that failed before its end. The caller's own abort stays what it is
 * (code that checks `name === 'AbortError'` keeps working); anything else, a connection reset
 * for one, becomes an `EventStreamError` with the original as its `cause`.
 */
function brokenOff(error: unknown, signal: AbortSignal | null | undefined): never {
  const name = (error as { name?: unknown } | null)?.name;
  if (error instanceof ArkE2EEError || signal?.aborted || name === 'AbortError' || name === 'TimeoutError') throw error;
  throw new EventStreamError(
    `the answer stream broke off before its end (${(error as Error)?.message ?? String(error)}); ` +
      'the answer is incomplete, and only what came before was authenticated',
    { cause: error },
  );
}

export function decryptEventStream(
  stream: ReadableStream<Uint8Array>,
  session: Session,
  options: EventStreamOptions & { signal?: AbortSignal | null } = {},
): ReadableStream<Uint8Array> {
  const reader = stream.getReader();
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const encoder = new TextEncoder();
  const decrypter = new EventStreamDecrypter(session, options);
  const decode = (bytes?: Uint8Array): string => {
    try {
      return bytes === undefined ? decoder.decode() : decoder.decode(bytes, { stream: true });
    } catch (error) {
      throw new EventStreamError('the answer stream is not valid UTF-8', { cause: error });
    }
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        // A source that fails mid-way (a reset connection) leaves the answer incomplete.
        // One read may complete no event: read on until there is text to give, or the end.
        for (;;) {
          const { done, value } = await reader.read().catch((error: unknown) => brokenOff(error, options.signal));
          let text: string;
          try {
            text = done ? decrypter.push(decode()) + decrypter.end() : decrypter.push(decode(value));
          } catch (error) {
            // What came before the failure goes to the read that is waiting (pull runs only
            // for one), then the error; the source is let go.
            const before = decrypter.drain();
            if (before !== '') controller.enqueue(encoder.encode(before));
            reader.cancel(error).catch(() => {});
            throw error;
          }
          if (text !== '') controller.enqueue(encoder.encode(text));
          if (done) {
            controller.close();
            return;
          }
          if (text !== '') return;
        }
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}
