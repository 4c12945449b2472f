/**
 * decryptEventStream (protocol §5, streamed): chunking-independence and expected events as
 * properties; cut streams, tampering, bad data, bad UTF-8; backpressure and cancel; fuzz.
 * The "service" side is an independent node:crypto helper (test/helpers/server-crypto.ts).
 */
import { createParser } from 'eventsource-parser';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ArkE2EEError, DecryptionFailedError, EventStreamError } from '../../src/errors.js';
import { decryptEventStream } from '../../src/protocol/event-stream.js';
import { sessionFromKey } from '../../src/protocol/create-session.js';
import type { Session } from '../../src/protocol/session.js';
import { serverEncrypt } from '../helpers/server-crypto.js';
import { sourceOf } from '../helpers/streams.js';

const KEY = new Uint8Array(32).map((_, i) => i + 1);
const NONCE = new Uint8Array(12).map((_, i) => 200 - i);
const SESSION = sessionFromKey(KEY, NONCE, { backend: 'node' });
const enc = (text: string): string => serverEncrypt(KEY, NONCE, text);
const utf8 = new TextEncoder();


const everyByte = (length: number): number[] => Array.from({ length }, (_, i) => i);

async function decryptAll(bytes: Uint8Array, cuts?: readonly number[], session: Session = SESSION): Promise<string> {
  const reader = decryptEventStream(sourceOf(bytes, cuts), session).getReader();
  const parts: Uint8Array[] = [];
  for (let r = await reader.read(); !r.done; r = await reader.read()) parts.push(r.value);
  return Buffer.concat(parts).toString('utf8');
}

interface Parsed {
  events: { event: string | undefined; id: string | undefined; data: string }[];
  comments: string[];
}
function parseSse(text: string): Parsed {
  const out: Parsed = { events: [], comments: [] };
  const parser = createParser({
    onEvent: ({ event, id, data }) => out.events.push({ event, id, data }),
    onComment: (comment) => out.comments.push(comment),
  });
  parser.feed(text);
  return out;
}

// ---- generated streams -------------------------------------------------------------------

const WIDE = ['中', '文', '字', '😀', '👩‍💻', '🎉', 'é', 'ß', '\u00a0', 'ア'];
const textUnit = fc.oneof(fc.constantFrom(...WIDE), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }));
/** Texts for contents: anything well formed, CJK and emoji often. */
const contentText = fc.string({ unit: textUnit, maxLength: 12 });
/** Texts for one-line fields (comments, event names, ids): no line ends, no NUL, no leading space. */
const lineText = contentText.filter((t) => !/[\r\n\0]|^ /.test(t));

type Item =
  | { kind: 'content'; texts: string[]; event?: string; id?: string; multiline: boolean }
  | { kind: 'comment'; text: string }
  | { kind: 'usage' }
  | { kind: 'filter'; text: string };

const item: fc.Arbitrary<Item> = fc.oneof(
  { weight: 5, arbitrary: fc.record(
    {
      kind: fc.constant('content' as const),
      texts: fc.array(contentText, { minLength: 1, maxLength: 2 }),
      event: lineText.filter((t) => t !== ''),
      id: lineText,
      multiline: fc.boolean(),
    },
    { requiredKeys: ['kind', 'texts', 'multiline'] },
  ) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('comment' as const), text: fc.oneof(fc.constant('keep-alive'), lineText) }) },
  { weight: 1, arbitrary: fc.constant<Item>({ kind: 'usage' }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('filter' as const), text: contentText }) },
);

const chunkOf = (choices: unknown[]): Record<string, unknown> => ({
  id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'm', choices,
});
const choiceOf = (content: string, index: number): unknown => ({ index, delta: { content }, finish_reason: null });

interface Built {
  wire: string;
  expected: Parsed['events'];
  comments: string[];
}
/** The stream as the service would send it, and what must come out of it. */
function build(items: Item[], eol: string, space: boolean): Built {
  const field = (name: string, value: string): string => `${name}:${space ? ' ' : ''}${value}${eol}`;
  let wire = '';
  const expected: Built['expected'] = [];
  const comments: string[] = [];
  const dataEvent = (plain: unknown, sent: unknown, extra: { event?: string; id?: string; multiline?: boolean } = {}): void => {
    if (extra.event !== undefined) wire += field('event', extra.event);
    if (extra.id !== undefined) wire += field('id', extra.id);
    const text = typeof sent === 'string' ? sent : JSON.stringify(sent, null, extra.multiline ? 1 : undefined);
    for (const line of text.split('\n')) wire += `data: ${line}${eol}`;
    wire += eol;
    expected.push({ event: extra.event, id: extra.id, data: typeof plain === 'string' ? plain : JSON.stringify(plain) });
  };
  for (const entry of items) {
    if (entry.kind === 'comment') {
      wire += `: ${entry.text}${eol}`;
      comments.push(entry.text);
    } else if (entry.kind === 'usage') {
      const usage = { ...chunkOf([]), usage: { prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 } };
      dataEvent(usage, usage);
    } else if (entry.kind === 'filter') {
      const chunk = chunkOf([{ index: 0, delta: { content: entry.text }, finish_reason: 'content_filter' }]);
      dataEvent(chunk, chunk);
    } else {
      const plain = chunkOf(entry.texts.map(choiceOf));
      const sent = chunkOf(entry.texts.map((t, i) => choiceOf(t === '' ? '' : enc(t), i)));
      dataEvent(plain, sent, entry);
    }
  }
  dataEvent('[DONE]', '[DONE]');
  return { wire, expected, comments };
}

const normalized = (events: Parsed['events']): unknown[] =>
  events.map((e) => ({ ...e, data: e.data === '[DONE]' ? e.data : JSON.parse(e.data) }));

describe('decryptEventStream', () => {
  it('decrypts every chunk, keeps comments, event and id, whatever the line ends and the cuts', async () => {
    await fc.assert(
      fc.asyncProperty(
        // A content_filter chunk is the last content of its choice (protocol §5): at most one, last.
        fc.array(item, { minLength: 1, maxLength: 30 }).map((items) => {
          const filter = items.findLast((entry) => entry.kind === 'filter');
          const rest = items.filter((entry) => entry.kind !== 'filter');
          return filter === undefined ? rest : [...rest, filter];
        }),
        fc.constantFrom('\n', '\r\n', '\r'),
        fc.boolean(),
        fc.oneof(fc.uniqueArray(fc.nat({ max: 1 << 16 }), { maxLength: 40 }), fc.constant('every byte' as const)),
        async (items, eol, space, cutSpec) => {
          const { wire, expected, comments } = build(items, eol, space);
          const bytes = utf8.encode(wire);
          const cuts = cutSpec === 'every byte' ? everyByte(bytes.length) : cutSpec.map((c) => c % bytes.length);
          const whole = await decryptAll(bytes);
          expect(await decryptAll(bytes, cuts)).toBe(whole);
          const out = parseSse(whole);
          expect(normalized(out.events)).toEqual(normalized(expected));
          expect(out.comments).toEqual(comments);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('passes chunks with nothing to decrypt through with their data exactly as it came', async () => {
    const usage = '{"choices": [], "usage": {"total_tokens": 8}}';
    const filter = '{"choices":[{"index":0,"delta":{"content":"不可以 😀"},"finish_reason":"content_filter"}]}';
    const wire = `data: ${usage}\n\ndata: ${filter}\n\n: 注释 🎉\n\ndata: [DONE]\n\n`;
    const bytes = utf8.encode(wire);
    const out = await decryptAll(bytes, everyByte(bytes.length));
    expect(parseSse(out)).toEqual({
      events: [usage, filter, '[DONE]'].map((data) => ({ event: undefined, id: undefined, data })),
      comments: ['注释 🎉'],
    });
  });

  describe('fails closed', () => {
    const good = `data: ${JSON.stringify(chunkOf([choiceOf(enc('你好 👋'), 0)]))}`;
    const goodOut = JSON.stringify(chunkOf([choiceOf('你好 👋', 0)]));

    /** Reads until the stream ends or fails: what came out before, and the error. */
    async function readUntilError(wire: string, cuts?: number[]): Promise<{ text: string; error: unknown }> {
      const bytes = utf8.encode(wire);
      const reader = decryptEventStream(sourceOf(bytes, cuts), SESSION).getReader();
      let text = '';
      try {
        for (let r = await reader.read(); !r.done; r = await reader.read()) text += Buffer.from(r.value).toString();
      } catch (error) {
        return { text, error };
      }
      return { text, error: undefined };
    }

    it.each([
      ['no blank line after the last data line (LF)', `${good}\n`],
      ['no blank line after the last data line (CRLF)', `${good}\r\n`],
      ['no blank line after the last data line (CR)', `${good}\r`],
      ['a partial last line', `${good}\n\ndata: {"choices":[{"delta":`],
      ['a partial last line ending in CR', `${good}\r\rdata: [DON\r`],
    ])('ends inside an event: %s', async (_name, wire) => {
      for (const cuts of [undefined, everyByte(wire.length)]) {
        const { text, error } = await readUntilError(wire, cuts);
        expect(error).toBeInstanceOf(EventStreamError);
        expect((error as EventStreamError).code).toBe('ERR_ARK_E2EE_STREAM');
        if (wire.startsWith(`${good}\n\n`) || wire.startsWith(`${good}\r\r`)) {
          expect(parseSse(text).events.map((e) => e.data)).toEqual([goodOut]);
        }
      }
    });

    it('a tampered chunk fails with DecryptionFailedError after the chunks before it came out', async () => {
      const sealed = enc('second');
      const flipped = sealed.replace(/^(.{4})(.)/, (_m, head: string, c: string) => head + (c === 'A' ? 'B' : 'A'));
      const wire = `${good}\n\n: between\n\ndata: ${JSON.stringify(chunkOf([choiceOf(flipped, 0)]))}\n\ndata: [DONE]\n\n`;
      const bytes = utf8.encode(wire);
      // Cut per event, every byte, and the whole stream in one chunk.
      for (const cuts of [[good.length + 2], everyByte(bytes.length), []]) {
        const { text, error } = await readUntilError(wire, cuts);
        expect(error).toBeInstanceOf(DecryptionFailedError);
        expect((error as DecryptionFailedError).code).toBe('ERR_ARK_E2EE_DECRYPTION_FAILED');
        const out = parseSse(text);
        expect(out.events.map((e) => e.data)).toEqual([goodOut]);
        expect(out.comments).toEqual(['between']);
      }
    });

    it.each([
      ['text', 'data: hello\n\n'],
      ['truncated JSON in a complete event', 'data: {"choices":[\n\n'],
      ['an empty data line', 'data:\n\n'],
    ])('data that is neither JSON nor [DONE] (%s) is an EventStreamError', async (_name, wire) => {
      const { error } = await readUntilError(`${good}\n\n${wire}`);
      expect(error).toBeInstanceOf(EventStreamError);
    });

    it.each([
      ['a byte that is never UTF-8', [...utf8.encode(': ok\n'), 0xff, ...utf8.encode('\n\n')]],
      ['an overlong encoding', [...utf8.encode(': '), 0xc0, 0xaf, 0x0a, 0x0a]],
      ['a lone surrogate', [...utf8.encode(': '), 0xed, 0xa0, 0x80, 0x0a, 0x0a]],
      ['a character cut at the very end', [...utf8.encode(': 中\n\n: '), ...utf8.encode('中').slice(0, 2)]],
    ])('invalid UTF-8 is an EventStreamError: %s', async (_name, byteList) => {
      const bytes = new Uint8Array(byteList);
      for (const cuts of [undefined, everyByte(bytes.length)]) {
        await expect(decryptAll(bytes, cuts)).rejects.toBeInstanceOf(EventStreamError);
      }
    });
  });

  it('reads the source only as fast as its output is read (backpressure)', async () => {
    let pulls = 0;
    const event = utf8.encode(`data: ${JSON.stringify(chunkOf([choiceOf(enc('tick'), 0)]))}\n\n`);
    const source = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulls++;
        if (pulls > 1000) controller.close();
        else controller.enqueue(event);
      },
    });
    const reader = decryptEventStream(source, SESSION).getReader();
    for (let i = 0; i < 2; i++) {
      const r = await reader.read();
      expect(r.done).toBe(false);
    }
    // Let every pending job and pull run; none of this waits on a clock.
    for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(pulls).toBeGreaterThanOrEqual(2);
    expect(pulls).toBeLessThanOrEqual(5);
    await reader.cancel();
  });

  it('cancelling the output cancels the source with the reason', async () => {
    const reasons: unknown[] = [];
    const source = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(utf8.encode(': keep-alive\n'));
      },
      cancel(reason) {
        reasons.push(reason);
      },
    });
    const reader = decryptEventStream(source, SESSION).getReader();
    expect((await reader.read()).done).toBe(false);
    const reason = new Error('the caller went away');
    await reader.cancel(reason);
    for (let i = 0; i < 10 && reasons.length === 0; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(reasons).toEqual([reason]);
  });

  it('fuzz: any bytes, any cuts: settles with an ArkE2EEError or with no content it did not decrypt', async () => {
    const secret = enc('秘密 🔐');
    const token = fc.constantFrom(
      'data: ', 'data:', '\n', '\r', '\r\n', ': c\n', 'event: x\n', 'id: 7\n', 'retry: 5\n', '[DONE]',
      '{"choices":[{"index":0,"delta":{"content":"', '{"choices":[', '{"delta":{"content":"',
      '{"reasoning_content":"', '"}}]}', '"}}', ']}', '{}', 'null', '"', 'AAAA', 'AAAAAAAAAAAAAAAAAAAAAAAA',
      '====', '中', '😀', secret,
    );
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.array(token, { maxLength: 40 }).map((parts) => utf8.encode(parts.join(''))),
    );
    await fc.assert(
      fc.asyncProperty(input, fc.uniqueArray(fc.nat({ max: 400 }), { maxLength: 12 }), async (bytes, cuts) => {
        let out: string;
        try {
          out = await decryptAll(bytes, cuts);
        } catch (error) {
          expect(error).toBeInstanceOf(ArkE2EEError);
          return;
        }
        for (const { data } of parseSse(out).events) {
          if (data === '[DONE]') continue;
          const chunk = JSON.parse(data) as unknown;
          const choices = (chunk as { choices?: unknown } | null)?.choices;
          if (!Array.isArray(choices)) continue;
          for (const choice of choices as { delta?: { content?: unknown }; finish_reason?: unknown }[]) {
            const content = choice?.delta?.content;
            if (typeof content === 'string' && content !== '' && choice.finish_reason !== 'content_filter') {
              expect(content).toMatch(/^(秘密 🔐)+$/u);
            }
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
