/**
 * maxEventBytes at its edges (mutation testing, issue 16): a limit met exactly passes and one
 * character more fails, for a line or event fed whole or in pieces, for the text after an event
 * ended inside the same chunk (with LF, CRLF and CR line ends, and a blank line at the very start
 * of a chunk), for a CR-only stream whose count must restart with each event, and for the text
 * held back after a plain content_filter text. test/protocol/answer-guards.test.ts shows that a
 * limit stops an endless line; these show where exactly it stops, and what the refusal says.
 */
import { describe, expect, it } from 'vitest';
import { AnswerTooLargeError, InvalidOptionError } from '../../src/errors.js';
import { EventStreamDecrypter } from '../../src/protocol/event-stream.js';
import { sessionFromKey } from '../../src/protocol/create-session.js';
import { serverEncrypt } from '../helpers/server-crypto.js';

const KEY = new Uint8Array(32).map((_, i) => 3 * i + 11);
const NONCE = new Uint8Array(12).map((_, i) => 250 - i);
const SESSION = sessionFromKey(KEY, NONCE, { backend: 'node' });
const LIMIT = 64;

const decrypter = (maxEventBytes = LIMIT): EventStreamDecrypter => new EventStreamDecrypter(SESSION, { maxEventBytes });
const chunk = (content: string, finishReason: string | null = null): string =>
  JSON.stringify({ object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content }, finish_reason: finishReason }] });

/** Runs `feed` and returns the AnswerTooLargeError it threw, after checking what it says. */
function tooLarge(feed: () => void, limit = LIMIT): AnswerTooLargeError {
  let error: unknown;
  try {
    feed();
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(AnswerTooLargeError);
  expect((error as AnswerTooLargeError).code).toBe('ERR_ARK_E2EE_ANSWER_TOO_LARGE');
  expect((error as AnswerTooLargeError).limit).toBe(limit);
  return error as AnswerTooLargeError;
}

const unendedMessage = (limit: number): string =>
  `a line or event of the answer stream is longer than ${limit} characters (maxEventBytes) without ending; ` +
  'the stream was stopped. Raise maxEventBytes if answers this large are expected';

/** `text` in pieces of `size` characters. */
const piecesOf = (text: string, size: number): string[] =>
  Array.from({ length: Math.ceil(text.length / size) }, (_, i) => text.slice(i * size, (i + 1) * size));

describe('the option itself', () => {
  it('1 is a limit (the smallest): one character passes, the second fails', () => {
    const smallest = decrypter(1);
    expect(smallest.push('d')).toBe('');
    tooLarge(() => smallest.push('a'), 1);
  });

  it('a bad value is refused with a message that names the option and the value', () => {
    for (const [bad, shown] of [[0, '0'], [Number.NaN, 'NaN'], [2.5, '2.5']] as const) {
      let error: unknown;
      try {
        decrypter(bad);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect((error as InvalidOptionError).code).toBe('ERR_ARK_E2EE_INVALID_OPTION');
      expect((error as Error).message).toBe(`maxEventBytes must be a whole number ≥ 1 (or Infinity for no limit), got ${shown}`);
    }
  });
});

describe('a line with no end yet', () => {
  const exact = `data: ${'A'.repeat(LIMIT - 6)}`;

  it.each([['in one piece', LIMIT], ['in pieces of 5', 5], ['a character at a time', 1]])(
    'exactly the limit passes, one character more fails (%s)',
    (_name, size) => {
      const stream = decrypter();
      for (const piece of piecesOf(exact, size)) expect(stream.push(piece)).toBe('');
      const error = tooLarge(() => stream.push('A'));
      expect(error.message).toBe(unendedMessage(LIMIT));
      // It stays refused: an event end now changes nothing.
      expect(() => stream.push('\n\n')).toThrow(error);
    },
  );
});

describe('an event of several lines, counted across its line ends', () => {
  // Lines of a JSON array: not an object, so passed on as it came.
  const lines = ['data: [\n', 'data: 1,\n', 'data: 2,\n', 'data: 3]\n'];
  const size = lines.join('').length;

  it('up to its last line end, exactly the limit passes; the blank line that ends it restarts the count', () => {
    const stream = decrypter(size);
    let out = '';
    for (let round = 0; round < 3; round++) {
      for (const line of lines) out += stream.push(line);
      out += stream.push('\n');
    }
    out += stream.push('data: [DONE]\n\n') + stream.end();
    expect(out).toBe(`${lines.join('')}\n`.repeat(3) + 'data: [DONE]\n\n');
  });

  it('one character less of limit fails at the last line', () => {
    const stream = decrypter(size - 1);
    for (const line of lines.slice(0, -1)) stream.push(line);
    tooLarge(() => stream.push(lines.at(-1)!), size - 1);
  });
});

describe('text after an event that ended inside the same chunk', () => {
  // The chunk before, then the head of the chunk that ends an event; the rest of that chunk is
  // counted from its last line end.
  it.each([
    ['LF', '', 'data: [DONE]\n\n'],
    ['CRLF', '', 'data: [DONE]\r\n\r\n'],
    ['CR', '', 'data: [DONE]\r\r'],
    ['LF, the blank line first in its chunk', 'data: [DONE]\n', '\n\n'],
    ['CRLF, the blank line first in its chunk', 'data: [DONE]\r\n', '\r\n'],
  ])('%s: exactly the limit after the last line end passes, one more fails', (_name, before, head) => {
    const fits = `: ${'c'.repeat(LIMIT - 2)}`;
    const passing = decrypter();
    let out = passing.push(before);
    out += passing.push(head + fits);
    // The comment ends and an event follows: the count starts again.
    out += passing.push('\ndata: [DONE]\n\n') + passing.end();
    expect(out).toBe(`data: [DONE]\n\n${fits}\ndata: [DONE]\n\n`);

    const failing = decrypter();
    failing.push(before);
    expect(tooLarge(() => failing.push(`${head + fits}c`)).message).toBe(unendedMessage(LIMIT));
  });

  it('a CR-only stream far longer than the limit passes when each event fits (the count restarts per event)', () => {
    const sealed = `data: ${chunk(serverEncrypt(KEY, NONCE, 'ok'))}\r\r`;
    const plain = `data: ${chunk('ok')}\n\n`;
    const stream = decrypter(sealed.length + 2);
    let out = '';
    for (let i = 0; i < 12; i++) out += stream.push(sealed);
    out += stream.push('data: [DONE]\r\r') + stream.end();
    expect(out).toBe(plain.repeat(12) + 'data: [DONE]\n\n');
  });
});

describe('text held back after a plain content_filter text', () => {
  const events = [
    `data: ${chunk('filtered, in plain', 'content_filter')}\n\n`,
    ': still here\n\n',
    `data: ${JSON.stringify({ object: 'chat.completion.chunk', choices: [], usage: { total_tokens: 9 } })}\n\n`,
    'data: [DONE]\n\n',
  ];

  /** The events fed one by one, then the end: everything given out. */
  const run = (stream: EventStreamDecrypter): string => events.map((text) => stream.push(text)).join('') + stream.end();

  it('held text of exactly the limit is given out at the end; one character less of limit is refused', () => {
    const whole = run(decrypter(Number.POSITIVE_INFINITY));
    expect(whole).toBe(`data: ${chunk('filtered, in plain', 'content_filter')}\n\n: still here\ndata: {"object":"chat.completion.chunk","choices":[],"usage":{"total_tokens":9}}\n\ndata: [DONE]\n\n`);
    expect(run(decrypter(whole.length))).toBe(whole);

    const limit = whole.length - 1;
    const error = tooLarge(() => run(decrypter(limit)), limit);
    expect(error.message).toBe(
      `the answer stream went on for more than ${limit} characters (maxEventBytes) after a plain content_filter ` +
        'text, which is held back until the end; the stream was stopped',
    );
  });
});
