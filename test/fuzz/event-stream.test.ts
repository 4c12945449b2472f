/**
 * Fuzz (issue 7): bytes and chunkings into decryptEventStream. It never hangs (every run settles
 * within a deadline), and never emits a content that did not authenticate:
 * - streams of events, good and bad (another key, a flipped character, plain text, data that is
 *   not JSON), with any line ends and cut anywhere: exactly the events before the first bad one
 *   come out, decrypted, then a typed error; a stream with no bad event comes out whole;
 * - valid streams with random bytes changed, inserted or deleted, and arbitrary bytes: the
 *   contents that come out are texts that were encrypted under the session, nothing else.
 * (test/protocol/event-stream.test.ts has the example-based cases and a smaller fuzz.)
 */
import fc from 'fast-check';
import { createParser } from 'eventsource-parser';
import { describe, expect, it } from 'vitest';
import { ArkE2EEError, decryptEventStream, sessionFromKey } from '../../src/index.js';
import { serverEncrypt } from '../helpers/server-crypto.js';
import { fuzzParameters, fuzzTimeout } from './settings.js';
import { sourceOf } from '../helpers/streams.js';

const KEY = new Uint8Array(32).map((_, i) => 255 - i);
const NONCE = new Uint8Array(12).map((_, i) => i * 3);
const OTHER_KEY = new Uint8Array(32).map((_, i) => i);
const SESSION = sessionFromKey(KEY, NONCE);
const DEADLINE_MS = 5_000;
const utf8 = new TextEncoder();


interface Settled {
  text: string;
  error: unknown;
}

/** Reads the output to its end or its error; fails the run if that takes past the deadline. */
async function settle(bytes: Uint8Array, cuts: readonly number[]): Promise<Settled> {
  const reader = decryptEventStream(sourceOf(bytes, cuts), SESSION).getReader();
  let text = '';
  const run = (async (): Promise<Settled> => {
    try {
      for (let r = await reader.read(); !r.done; r = await reader.read()) text += Buffer.from(r.value).toString('utf8');
    } catch (error) {
      return { text, error };
    }
    return { text, error: undefined };
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`decryptEventStream did not settle within ${DEADLINE_MS} ms`)), DEADLINE_MS);
  });
  try {
    return await Promise.race([run, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

interface OutEvent {
  data: string;
}
function eventsOf(text: string): OutEvent[] {
  const events: OutEvent[] = [];
  createParser({ onEvent: ({ data }) => events.push({ data }) }).feed(text);
  return events;
}

/** Every non-content_filter `content` / `reasoning_content` string that came out. */
function deliveredTexts(text: string): { field: string; value: string }[] {
  const out: { field: string; value: string }[] = [];
  for (const { data } of eventsOf(text)) {
    let chunk: unknown;
    try {
      chunk = JSON.parse(data);
    } catch {
      continue; // [DONE]
    }
    const choices = (chunk as { choices?: unknown } | null)?.choices;
    if (!Array.isArray(choices)) continue;
    for (const choice of choices as ({ delta?: Record<string, unknown>; finish_reason?: unknown } | null)[]) {
      if (choice?.finish_reason === 'content_filter') continue;
      for (const field of ['content', 'reasoning_content']) {
        const value = choice?.delta?.[field];
        if (typeof value === 'string' && value !== '') out.push({ field, value });
      }
    }
  }
  return out;
}

/** Whether `text` is one or more of `texts` laid end to end. */
function madeOf(text: string, texts: ReadonlySet<string>): boolean {
  const reachable = new Array<boolean>(text.length + 1).fill(false);
  reachable[0] = true;
  for (let at = 0; at < text.length; at++) {
    if (!reachable[at]) continue;
    for (const piece of texts) if (piece !== '' && text.startsWith(piece, at)) reachable[at + piece.length] = true;
  }
  return reachable[text.length]!;
}

// ---- streams of good and bad events --------------------------------------------------------

const plainText = fc.string({ unit: fc.oneof(fc.constantFrom('中', '😀', 'é', 'a', ' '), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 })), maxLength: 12 });

type EventSpec =
  | { kind: 'good'; texts: string[] }
  | { kind: 'comment' }
  | { kind: 'usage' }
  | { kind: 'other-key'; text: string }
  | { kind: 'flipped'; text: string; at: number }
  | { kind: 'plain'; text: string }
  | { kind: 'not-json'; data: string };

const spec: fc.Arbitrary<EventSpec> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('good' as const), texts: fc.array(plainText, { minLength: 1, maxLength: 3 }) }) },
  { weight: 1, arbitrary: fc.constant<EventSpec>({ kind: 'comment' }) },
  { weight: 1, arbitrary: fc.constant<EventSpec>({ kind: 'usage' }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('other-key' as const), text: plainText }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('flipped' as const), text: plainText, at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('plain' as const), text: plainText.filter((t) => t !== '') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('not-json' as const), data: fc.constantFrom('hello', '{"choices":', '[DONE', '{') }) },
);

const chunkOf = (choices: unknown[]): Record<string, unknown> => ({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices });
const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function flip(ciphertext: string, at: number): string {
  // A different base64 character somewhere before the padding.
  const body = ciphertext.replace(/=+$/, '');
  const position = at % body.length;
  const old = body[position]!;
  const replacement = BASE64[(BASE64.indexOf(old) + 1 + (at % 63)) % 64]!;
  return ciphertext.slice(0, position) + replacement + ciphertext.slice(position + 1);
}

interface BuiltStream {
  wire: string;
  /** The data of every event that must come out (decrypted), in order, before any failure. */
  expected: string[];
  /** Whether an event must fail the stream. */
  fails: boolean;
}

function buildStream(specs: EventSpec[], eol: string): BuiltStream {
  let wire = '';
  const expected: string[] = [];
  let fails = false;
  const emit = (data: string): void => {
    wire += `data: ${data}${eol}${eol}`;
  };
  for (const s of specs) {
    if (fails) {
      // After the first bad event nothing may come out; what follows does not matter.
      emit(JSON.stringify(chunkOf([{ index: 0, delta: { content: serverEncrypt(KEY, NONCE, 'after') } }])));
      continue;
    }
    switch (s.kind) {
      case 'good': {
        const sent = chunkOf(s.texts.map((t, index) => ({ index, delta: { content: t === '' ? '' : serverEncrypt(KEY, NONCE, t) }, finish_reason: null })));
        const plain = chunkOf(s.texts.map((t, index) => ({ index, delta: { content: t }, finish_reason: null })));
        emit(JSON.stringify(sent));
        expected.push(JSON.stringify(plain));
        break;
      }
      case 'comment':
        wire += `: keep-alive${eol}`;
        break;
      case 'usage': {
        const usage = JSON.stringify({ ...chunkOf([]), usage: { total_tokens: 3 } });
        emit(usage);
        expected.push(usage);
        break;
      }
      case 'other-key':
        emit(JSON.stringify(chunkOf([{ index: 0, delta: { content: serverEncrypt(OTHER_KEY, NONCE, s.text) } }])));
        fails = true;
        break;
      case 'flipped':
        emit(JSON.stringify(chunkOf([{ index: 0, delta: { content: flip(serverEncrypt(KEY, NONCE, s.text), s.at) } }])));
        fails = true;
        break;
      case 'plain':
        emit(JSON.stringify(chunkOf([{ index: 0, delta: { content: s.text } }])));
        fails = true;
        break;
      case 'not-json':
        emit(s.data);
        fails = true;
        break;
    }
  }
  if (!fails) {
    emit('[DONE]');
    expected.push('[DONE]');
  }
  return { wire, expected, fails };
}

const cutsFor = (maxLength: number) => fc.uniqueArray(fc.nat({ max: maxLength }), { maxLength: 24 });

describe('fuzz: decryptEventStream', () => {
  const structured = fuzzParameters(300);
  it('streams of good and bad events, any line ends, any cuts: the good prefix, then a typed error', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(spec, { maxLength: 8 }),
        fc.constantFrom('\n', '\r\n', '\r'),
        cutsFor(2_000),
        async (specs, eol, cuts) => {
          const { wire, expected, fails } = buildStream(specs, eol);
          const { text, error } = await settle(utf8.encode(wire), cuts);
          if (fails) {
            expect(error).toBeInstanceOf(ArkE2EEError);
          } else {
            expect(error).toBeUndefined();
          }
          const normalize = (data: string): unknown => (data === '[DONE]' ? data : JSON.parse(data));
          expect(eventsOf(text).map((e) => normalize(e.data))).toEqual(expected.map(normalize));
        },
      ),
      structured,
    );
  }, fuzzTimeout(300, 20));

  const AUTHENTIC = ['秘密', 'hello', '😀 ok', 'a', '北京欢迎你'];
  const AUTHENTIC_SET = new Set(AUTHENTIC);
  const validWire = fc
    .array(fc.constantFrom(...AUTHENTIC), { minLength: 1, maxLength: 6 })
    .map((texts) => texts.map((t, i) => `data: ${JSON.stringify(chunkOf([{ index: 0, delta: i % 2 ? { reasoning_content: serverEncrypt(KEY, NONCE, t), content: '' } : { content: serverEncrypt(KEY, NONCE, t) } }]))}\n\n`).join('') + 'data: [DONE]\n\n')
    .map((text) => utf8.encode(text));
  type Edit = { kind: 'set' | 'insert' | 'delete'; at: number; byte: number; length: number };
  const edit: fc.Arbitrary<Edit> = fc.record({
    kind: fc.constantFrom('set', 'insert', 'delete'),
    at: fc.nat(),
    byte: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(...utf8.encode('\n\r:"{}[]=A/+ '))),
    length: fc.integer({ min: 1, max: 8 }),
  });
  function applyEdits(bytes: Uint8Array, edits: Edit[]): Uint8Array {
    let out = Array.from(bytes);
    for (const { kind, at, byte, length } of edits) {
      const position = at % (out.length + 1);
      if (kind === 'set' && position < out.length) out[position] = byte;
      else if (kind === 'insert') out = [...out.slice(0, position), ...Array<number>(length).fill(byte), ...out.slice(position)];
      else out = [...out.slice(0, position), ...out.slice(position + length)];
    }
    return new Uint8Array(out);
  }

  const mutated = fuzzParameters(1_000);
  it('valid streams with bytes changed, inserted or deleted, and arbitrary bytes: only authentic texts come out', async () => {
    const input = fc.oneof(
      { weight: 4, arbitrary: fc.tuple(validWire, fc.array(edit, { minLength: 1, maxLength: 4 })).map(([bytes, edits]) => applyEdits(bytes, edits)) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 600 }) },
    );
    await fc.assert(
      fc.asyncProperty(input, cutsFor(1_500), async (bytes, cuts) => {
        const { text, error } = await settle(bytes, cuts);
        if (error !== undefined) expect(error).toBeInstanceOf(ArkE2EEError);
        // Content and reasoning alike (issue 10): only what authenticated comes out.
        for (const { field, value } of deliveredTexts(text)) {
          expect(madeOf(value, AUTHENTIC_SET), `delivered ${field} ${JSON.stringify(value)}`).toBe(true);
        }
      }),
      mutated,
    );
  }, fuzzTimeout(1_000, 10));
});
