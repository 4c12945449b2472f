/**
 * Issue 10, the answer side, at the protocol layer: only authenticated text comes out of a
 * stream (a content that is not a string, a text field the protocol does not encrypt, content
 * after a choice's plain content_filter text, reasoning that does not authenticate); the three
 * forms of an empty content are accepted; a stream with no event is not a clean empty answer;
 * and a line or event with no end stops at its limit, with the source cancelled.
 */
import { createParser } from 'eventsource-parser';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AnswerTooLargeError, DecryptionFailedError, EventStreamError, InvalidOptionError } from '../../src/errors.js';
import { EventStreamDecrypter, decryptEventStream, type EventStreamOptions } from '../../src/protocol/event-stream.js';
import type { PlainTextNotice } from '../../src/protocol/response.js';
import { sessionFromKey } from '../../src/protocol/create-session.js';
import { serverEncrypt } from '../helpers/server-crypto.js';
import { sourceOf } from '../helpers/streams.js';

const KEY = new Uint8Array(32).map((_, i) => 7 * i + 3);
const NONCE = new Uint8Array(12).map((_, i) => 90 + i);
const SESSION = sessionFromKey(KEY, NONCE, { backend: 'node' });
const enc = (text: string): string => serverEncrypt(KEY, NONCE, text);

const event = (chunk: unknown): string => `data: ${JSON.stringify(chunk)}\n\n`;
const chunkOf = (...choices: unknown[]): unknown => ({ object: 'chat.completion.chunk', choices });
const delta = (index: number, fields: Record<string, unknown>, finishReason: string | null = null): unknown => ({
  index,
  delta: fields,
  finish_reason: finishReason,
});

/** What came out of a stream before it ended or failed: the texts per choice, and the error. */
async function run(wire: string, options: EventStreamOptions = {}): Promise<{ texts: string[]; error: unknown; raw: string }> {
  const reader = decryptEventStream(sourceOf(new TextEncoder().encode(wire)), SESSION, options).getReader();
  let raw = '';
  let error: unknown;
  try {
    for (let r = await reader.read(); !r.done; r = await reader.read()) raw += new TextDecoder().decode(r.value);
  } catch (caught) {
    error = caught;
  }
  const texts: string[] = [];
  createParser({
    onEvent: ({ data }) => {
      if (data === '[DONE]') return;
      for (const choice of (JSON.parse(data) as { choices?: { delta?: Record<string, unknown> }[] }).choices ?? []) {
        for (const field of ['content', 'reasoning_content']) {
          const value = choice.delta?.[field];
          if (value !== undefined && value !== null && value !== '') texts.push(typeof value === 'string' ? value : JSON.stringify(value));
        }
      }
    },
  }).feed(raw);
  return { texts, error, raw };
}

describe('a stream carries only authenticated text', () => {
  const before = event(chunkOf(delta(0, { role: 'assistant', content: enc('Hello') })));
  const after = event(chunkOf(delta(0, { content: enc(' world') }))) + 'data: [DONE]\n\n';

  it('a content or reasoning_content that is not a string is an EventStreamError; nothing of it comes out', async () => {
    const injected = fc.oneof(
      fc.constant<unknown>([{ type: 'text', text: 'INJECTED' }]),
      fc.jsonValue().filter((v) => v !== null && typeof v !== 'string'),
    );
    await fc.assert(
      fc.asyncProperty(injected, fc.constantFrom('content', 'reasoning_content'), fc.constantFrom(null, 'content_filter'), async (value, field, finish) => {
        const { texts, error, raw } = await run(before + event(chunkOf(delta(0, { [field]: value }, finish))) + after);
        expect(error).toBeInstanceOf(EventStreamError);
        expect(texts).toEqual(['Hello']);
        expect(raw).not.toContain('INJECTED');
      }),
      { numRuns: 60 },
    );
  });

  it('a text field the protocol does not encrypt (refusal, reasoning, audio) is an EventStreamError', async () => {
    for (const extra of [{ refusal: 'INJECTED' }, { reasoning: 'INJECTED' }, { audio: { transcript: 'INJECTED' } }]) {
      const { texts, error, raw } = await run(before + event(chunkOf(delta(0, { content: enc('!'), ...extra }))) + after);
      expect(error, JSON.stringify(extra)).toBeInstanceOf(EventStreamError);
      expect(texts).toEqual(['Hello']);
      expect(raw).not.toContain('INJECTED');
    }
  });

  it('reasoning_content that does not authenticate stops the stream, as content does', async () => {
    for (const reasoning of ['thinking in plain text', 'AAAAAAAAAAAAAAAAAAAAAAAA', serverEncrypt(new Uint8Array(32), NONCE, 'other request')]) {
      const { texts, error, raw } = await run(before + event(chunkOf(delta(0, { reasoning_content: reasoning, content: '' }))) + after);
      expect(error).toBeInstanceOf(DecryptionFailedError);
      expect((error as Error).message).toContain('reasoning_content');
      expect(texts).toEqual(['Hello']);
      expect(raw).not.toContain(reasoning);
    }
  });

  it('plain content_filter text is held to the end, then passed on and reported, as the last content of its choice', async () => {
    const notices: PlainTextNotice[] = [];
    const wire =
      before +
      event(chunkOf(delta(1, { content: enc('other choice') }))) +
      event(chunkOf(delta(0, { content: 'filtered notice' }, 'content_filter'))) +
      // Another choice goes on; the filtered one may still get chunks without content.
      event(chunkOf(delta(1, { content: enc(' goes on') }), delta(0, { content: '' }))) +
      event(chunkOf(delta(0, {}))) +
      event({ choices: [], usage: { total_tokens: 3 } }) +
      'data: [DONE]\n\n';
    const { texts, error } = await run(wire, { onPlainText: (notice) => notices.push(notice) });
    expect(error).toBeUndefined();
    expect(texts).toEqual(['Hello', 'other choice', 'filtered notice', ' goes on']);
    expect(notices).toEqual([{ choiceIndex: 0, field: 'content', text: 'filtered notice', reason: 'content_filter' }]);
  });

  it('content for a choice after its content_filter chunk is an EventStreamError: no seamless spliced answer', async () => {
    const filtered = event(chunkOf(delta(0, { content: 'PLAIN' }, 'content_filter')));
    for (const next of [
      { content: enc(' world') },
      { reasoning_content: enc('more') },
      { content: 'PLAIN AGAIN' },
    ]) {
      for (const finish of [null, 'content_filter', 'stop']) {
        const notices: PlainTextNotice[] = [];
        const wire = before + filtered + event(chunkOf(delta(0, next, finish))) + 'data: [DONE]\n\n';
        const { texts, error, raw } = await run(wire, { onPlainText: (notice) => notices.push(notice) });
        expect(error, JSON.stringify([next, finish])).toBeInstanceOf(EventStreamError);
        expect((error as Error).message).toMatch(/after its plain content_filter/);
        // The plain text was held back until the stream showed it was the last: it never came out.
        expect(texts).toEqual(['Hello']);
        expect(raw).not.toContain('PLAIN');
        expect(notices).toEqual([]);
      }
    }
  });

  it('accepts the three forms of an empty content: absent, the ciphertext of "" (the tag alone), plain ""', async () => {
    const empty = enc('');
    expect(empty).toHaveLength(24);
    const wire =
      event(chunkOf(delta(0, { role: 'assistant' }))) +
      event(chunkOf(delta(0, { content: empty }))) +
      event(chunkOf(delta(0, { content: enc('x') }))) +
      event(chunkOf(delta(0, { content: '' }))) +
      event(chunkOf(delta(0, { content: null, reasoning_content: empty }))) +
      event(chunkOf(delta(0, { content: '' }, 'stop'))) +
      'data: [DONE]\n\n';
    const { texts, error, raw } = await run(wire);
    expect(error).toBeUndefined();
    expect(texts).toEqual(['x']);
    expect(raw).not.toContain(empty);
  });
});

describe('a stream with no event', () => {
  for (const [name, wire] of [
    ['nothing', ''],
    ['a JSON body under text/event-stream', JSON.stringify({ choices: [{ message: { content: 'INJECTED' } }] })],
    ['a JSON body with a line end', `${JSON.stringify({ choices: [] })}\n`],
    ['comments only', ': keep-alive\n\n: keep-alive\n\n'],
  ] as const) {
    it(`${name}: EventStreamError, not a clean empty answer`, async () => {
      const { error, raw } = await run(wire);
      expect(error).toBeInstanceOf(EventStreamError);
      expect(raw).not.toContain('INJECTED');
    });
  }

  it('[DONE] alone is an event: a clean end', async () => {
    expect((await run('data: [DONE]\n\n')).error).toBeUndefined();
  });
});

describe('maxEventBytes: a line or an event with no end', () => {
  const LIMIT = 4096;

  it('a line longer than the limit, fed in small pieces, stops at the limit with AnswerTooLargeError', () => {
    const decrypter = new EventStreamDecrypter(SESSION, { maxEventBytes: LIMIT });
    decrypter.push('data: ');
    let fed = 6;
    let error: unknown;
    try {
      for (; fed < 10 * LIMIT; fed += 100) decrypter.push('A'.repeat(100));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(AnswerTooLargeError);
    expect((error as AnswerTooLargeError).code).toBe('ERR_ARK_E2EE_ANSWER_TOO_LARGE');
    expect((error as AnswerTooLargeError).limit).toBe(LIMIT);
    expect(fed).toBeLessThanOrEqual(LIMIT + 100);
    // It stays failed.
    expect(() => decrypter.push('\n\n')).toThrow(AnswerTooLargeError);
  });

  it('an event of many short lines that never ends (no blank line) stops at the limit too', () => {
    const decrypter = new EventStreamDecrypter(SESSION, { maxEventBytes: LIMIT });
    expect(() => {
      for (let i = 0; i < 1000; i++) decrypter.push('data: AAAAAAAAAAAAAAAAAAAA\n');
    }).toThrow(AnswerTooLargeError);
  });

  it('events under the limit pass, however many: the count restarts with each event', async () => {
    const one = event(chunkOf(delta(0, { content: enc('y'.repeat(LIMIT / 4)) })));
    expect(one.length).toBeLessThan(LIMIT);
    const { texts, error } = await run(one.repeat(20) + 'data: [DONE]\n\n', { maxEventBytes: LIMIT });
    expect(error).toBeUndefined();
    expect(texts).toHaveLength(20);
  });

  it('over the limit, the source stream is cancelled with the error', async () => {
    let cancelled: unknown;
    const endless = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('data: '));
      },
      pull(controller) {
        controller.enqueue(new Uint8Array(1024).fill(65));
      },
      cancel(reason) {
        cancelled = reason;
      },
    });
    const reader = decryptEventStream(endless, SESSION, { maxEventBytes: LIMIT }).getReader();
    const error = await reader.read().then(() => undefined, (caught: unknown) => caught);
    expect(error).toBeInstanceOf(AnswerTooLargeError);
    expect(cancelled).toBe(error);
  });

  it('what follows a content_filter text is held back, within the limit too', async () => {
    const wire =
      event(chunkOf(delta(0, { content: 'filtered' }, 'content_filter'))) +
      event(chunkOf(delta(1, { content: enc('z'.repeat(LIMIT / 8)) }))).repeat(8) +
      'data: [DONE]\n\n';
    const { texts, error } = await run(wire, { maxEventBytes: LIMIT });
    expect(error).toBeInstanceOf(AnswerTooLargeError);
    expect(texts).toEqual([]);
  });

  it('a limit that is not a whole number ≥ 1 is refused up front (NaN would mean no limit at all)', () => {
    for (const bad of [Number.NaN, 0, -1, 1.5, '10' as unknown as number]) {
      expect(() => new EventStreamDecrypter(SESSION, { maxEventBytes: bad })).toThrow(InvalidOptionError);
    }
    expect(() => new EventStreamDecrypter(SESSION, { maxEventBytes: Number.POSITIVE_INFINITY })).not.toThrow();
  });

  it('the default is 16 MiB', () => {
    const decrypter = new EventStreamDecrypter(SESSION);
    const mib = 'A'.repeat(1024 * 1024);
    decrypter.push('data: ');
    for (let i = 0; i < 15; i++) decrypter.push(mib);
    expect(() => decrypter.push(mib + mib)).toThrow(AnswerTooLargeError);
  });
});
