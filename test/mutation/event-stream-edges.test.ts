/**
 * decryptEventStream where test/protocol/event-stream.test.ts does not look closely enough to
 * notice a weakened line (mutation testing, issue 16): invalid UTF-8 after a good event (where
 * "no event at all" cannot be the reason for the refusal), `retry:` fields, JSON that is not an
 * object, how a source that breaks off is named, and that nothing is read before it is asked for.
 * Then (a later round): what each refusal says, that the first failure is the one thrown and
 * nothing after it comes out, that held content_filter text stays held when the end fails, and
 * that chunks of one form are decrypted without a parse each.
 */
import { describe, expect, it, vi } from 'vitest';
import { DecryptionFailedError, EventStreamError } from '../../src/errors.js';
import { decryptEventData, decryptEventStream } from '../../src/protocol/event-stream.js';
import { sessionFromKey } from '../../src/protocol/create-session.js';
import { serverEncrypt } from '../helpers/server-crypto.js';
import { sourceOf } from '../helpers/streams.js';

const KEY = new Uint8Array(32).map((_, i) => 90 - i);
const NONCE = new Uint8Array(12).map((_, i) => i * 13);
const SESSION = sessionFromKey(KEY, NONCE, { backend: 'node' });
const utf8 = new TextEncoder();
const chunk = (content: string): string =>
  JSON.stringify({ id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content }, finish_reason: null }] });
const GOOD_EVENT = `data: ${chunk(serverEncrypt(KEY, NONCE, 'hello'))}\n\n`;
const GOOD_OUT = `data: ${chunk('hello')}\n\n`;

/** Reads to the end or the first error: the text given out before, and the error. */
async function readAll(source: ReadableStream<Uint8Array>, signal?: AbortSignal): Promise<{ text: string; error: unknown }> {
  const reader = decryptEventStream(source, SESSION, { signal }).getReader();
  let text = '';
  try {
    for (let r = await reader.read(); !r.done; r = await reader.read()) text += Buffer.from(r.value).toString();
  } catch (error) {
    return { text, error };
  }
  return { text, error: undefined };
}

const bytesOf = (...parts: (string | number[])[]): Uint8Array =>
  new Uint8Array(parts.flatMap((part) => (typeof part === 'string' ? [...utf8.encode(part)] : part)));

describe('bytes that are not UTF-8, after a good event, stop the stream as such', () => {
  it.each([
    ['in a comment', bytesOf(GOOD_EVENT, ': bad ', [0xff], '\n\ndata: [DONE]\n\n')],
    ['inside an event\'s data', bytesOf(GOOD_EVENT, 'data: {"x":"', [0xc3, 0x28], '"}\n\ndata: [DONE]\n\n')],
    ['a character cut at the very end', bytesOf(GOOD_EVENT, 'data: [DONE]\n\n: ', [0xe4, 0xb8])],
  ])('%s', async (_name, bytes) => {
    for (const cuts of [undefined, Array.from({ length: bytes.length }, (_, i) => i)]) {
      const { text, error } = await readAll(sourceOf(bytes, cuts));
      expect(error).toBeInstanceOf(EventStreamError);
      expect((error as EventStreamError).code).toBe('ERR_ARK_E2EE_STREAM');
      expect((error as Error).message).toBe('the answer stream is not valid UTF-8');
      // The decoder's own error, kept for whoever needs the byte it stopped at.
      expect((error as Error).cause).toBeInstanceOf(TypeError);
      // Read in one chunk, bad bytes inside it hold back the good event with them.
      if (cuts !== undefined || text !== '') expect(text.startsWith(GOOD_OUT)).toBe(true);
      expect(text).not.toContain('\ufffd');
    }
  });
});

describe('fields and data that are passed on', () => {
  it('a retry: field is kept, in order, with its value', async () => {
    const { text, error } = await readAll(sourceOf(utf8.encode(`retry: 2500\n\n${GOOD_EVENT}retry: 40\n\ndata: [DONE]\n\n`)));
    expect(error).toBeUndefined();
    expect(text).toBe(`retry: 2500\n${GOOD_OUT}retry: 40\ndata: [DONE]\n\n`);
  });

  it.each([
    ['a role-only delta', '{ "id": "c", "choices": [ { "index": 0, "delta": { "role": "assistant" } } ] }'],
    ['an empty and a null content', '{"choices":[{"index":0,"delta":{"content":""}} , {"index":1,"delta":{"content":null}}]}'],
    ['a usage chunk', '{"choices": [], "usage": {"total_tokens": 8}}'],
    ['a choice without a delta', '{"choices":[{"index":0,"finish_reason":"stop"}],"z":1,"a":2}'],
  ])('an event with nothing to decrypt (%s) is passed on byte for byte, not re-serialised', async (_name, data) => {
    const { text, error } = await readAll(sourceOf(utf8.encode(`${GOOD_EVENT}data: ${data}\n\ndata: [DONE]\n\n`)));
    expect(error).toBeUndefined();
    expect(text).toBe(`${GOOD_OUT}data: ${data}\n\ndata: [DONE]\n\n`);
  });

  it.each(['null', '[1,2]', '"text"', '7', 'true'])('JSON that is not an object (%s) is passed on as it came', async (data) => {
    const { text, error } = await readAll(sourceOf(utf8.encode(`${GOOD_EVENT}data: ${data}\n\ndata: [DONE]\n\n`)));
    expect(error).toBeUndefined();
    expect(text).toBe(`${GOOD_OUT}data: ${data}\n\ndata: [DONE]\n\n`);
  });
});

/** A source that gives one good event, then fails with `error`. */
function failingAfterOne(error: unknown): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent) controller.error(error);
      else controller.enqueue(utf8.encode(GOOD_EVENT));
      sent = true;
    },
  });
}

describe('a source that breaks off', () => {
  it('a connection error becomes an EventStreamError that says the answer is incomplete, with the cause', async () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const { text, error } = await readAll(failingAfterOne(reset));
    expect(text).toBe(GOOD_OUT);
    expect(error).toBeInstanceOf(EventStreamError);
    expect((error as EventStreamError).code).toBe('ERR_ARK_E2EE_STREAM');
    expect((error as Error).message).toBe(
      'the answer stream broke off before its end (read ECONNRESET); the answer is incomplete, and ' +
        'only what came before was authenticated',
    );
    expect((error as Error).cause).toBe(reset);
  });

  it('something thrown that is not an Error is named too', async () => {
    const { error } = await readAll(failingAfterOne('socket hang up'));
    expect(error).toBeInstanceOf(EventStreamError);
    expect((error as Error).message).toContain('broke off before its end (socket hang up)');
  });

  it.each(['AbortError', 'TimeoutError'])('a %s stays itself (code that checks its name keeps working)', async (name) => {
    const abort = new DOMException('stopped', name);
    const { text, error } = await readAll(failingAfterOne(abort));
    expect(text).toBe(GOOD_OUT);
    expect(error).toBe(abort);
  });

  it('any error after the caller aborted stays itself', async () => {
    const controller = new AbortController();
    controller.abort();
    const other = new Error('the body was torn down');
    const { error } = await readAll(failingAfterOne(other), controller.signal);
    expect(error).toBe(other);
  });

  it.each([
    ['null', null, 'null'],
    ['undefined', undefined, 'undefined'],
    ['an object with no message', { code: 'ECONNRESET' }, '[object Object]'],
  ])('a failure that is %s is named as broken off too, with it as the cause', async (_name, thrown, shown) => {
    const { text, error } = await readAll(failingAfterOne(thrown));
    expect(text).toBe(GOOD_OUT);
    expect(error).toBeInstanceOf(EventStreamError);
    expect((error as Error).message).toBe(
      `the answer stream broke off before its end (${shown}); the answer is incomplete, and only what came ` +
        'before was authenticated',
    );
    expect((error as Error).cause).toBe(thrown);
  });

  it('a library error from the source stays itself', async () => {
    const own = new DecryptionFailedError('already typed');
    const { error } = await readAll(failingAfterOne(own));
    expect(error).toBe(own);
  });
});

describe('backpressure', () => {
  it('nothing is read from the source before the caller reads, and one read per read after', async () => {
    let pulls = 0;
    const source = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          pulls++;
          controller.enqueue(utf8.encode(GOOD_EVENT));
        },
      },
      { highWaterMark: 0 },
    );
    const settle = async (): Promise<void> => {
      for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    };
    const reader = decryptEventStream(source, SESSION).getReader();
    await settle();
    expect(pulls).toBe(0);
    for (let reads = 1; reads <= 3; reads++) {
      expect(Buffer.from((await reader.read()).value!).toString()).toBe(GOOD_OUT);
      await settle();
      expect(pulls).toBe(reads);
    }
    await reader.cancel();
  });
});

const NOT_JSON =
  'an event of the answer stream carries data that is neither JSON nor [DONE]; the stream is not a chat ' +
  'completion stream, so nothing after this point is trusted';
const UNFINISHED =
  'the answer stream ended inside an event (no blank line after its last field); the connection was ' +
  'probably cut, so the answer is incomplete';
const NO_EVENT =
  'the answer came as an event stream but held no event (an empty body, or JSON under text/event-stream): ' +
  'it is not a chat completion stream, so it is not trusted';

describe('what each refusal says, and what came out before it', () => {
  it.each([
    ['data that is not JSON', `${GOOD_EVENT}data: hello\n\ndata: [DONE]\n\n`, GOOD_OUT, NOT_JSON],
    ['an unfinished last event after a good one', `${GOOD_EVENT}data: [DONE]\n`, GOOD_OUT, UNFINISHED],
    // Not "no event": the one event there was is what the stream was cut in.
    ['an unfinished event, the only one', 'data: [DONE]', '', UNFINISHED],
    ['nothing at all', '', '', NO_EVENT],
    ['comments only', ': keep-alive\n\n', ': keep-alive\n', NO_EVENT],
  ])('%s', async (_name, wire, before, message) => {
    const { text, error } = await readAll(sourceOf(utf8.encode(wire)));
    expect(error).toBeInstanceOf(EventStreamError);
    expect((error as EventStreamError).code).toBe('ERR_ARK_E2EE_STREAM');
    expect((error as Error).message).toBe(message);
    expect(text).toBe(before);
  });

  it('the first failure is the one thrown, and nothing after it comes out, in the same chunk', async () => {
    const tampered = serverEncrypt(KEY, NONCE, 'later').replace(/^(.{6})(.)/, (_m, head: string, c: string) => head + (c === 'A' ? 'B' : 'A'));
    const wire = `${GOOD_EVENT}data: hello\n\n: after the failure\n\ndata: ${chunk(tampered)}\n\n`;
    const { text, error } = await readAll(sourceOf(utf8.encode(wire)));
    expect(error).toBeInstanceOf(EventStreamError);
    expect((error as Error).message).toBe(NOT_JSON);
    expect(text).toBe(GOOD_OUT);
  });

  it('held content_filter text is neither given out nor reported when the stream ends inside an event', async () => {
    const filtered = JSON.stringify({ choices: [{ index: 0, delta: { content: 'FILTERED' }, finish_reason: 'content_filter' }] });
    const notices: unknown[] = [];
    const reader = decryptEventStream(sourceOf(utf8.encode(`${GOOD_EVENT}data: ${filtered}\n\ndata: [DONE]`)), SESSION, {
      onPlainText: (notice) => notices.push(notice),
    }).getReader();
    let text = '';
    let error: unknown;
    try {
      for (let r = await reader.read(); !r.done; r = await reader.read()) text += Buffer.from(r.value).toString();
    } catch (caught) {
      error = caught;
    }
    expect((error as Error).message).toBe(UNFINISHED);
    expect(text).toBe(GOOD_OUT);
    expect(notices).toEqual([]);
  });
});

describe('decrypting event data', () => {
  it('decryptEventData on its own, with no state from earlier events, decrypts a chunk', () => {
    expect(decryptEventData(chunk(serverEncrypt(KEY, NONCE, 'alone')), SESSION)).toBe(chunk('alone'));
  });

  it('chunks that differ only in their ciphertext are parsed once, then decrypted by the chunk template', async () => {
    const texts = ['one', ' two', ' three', ' four', ' five'];
    const sealed = texts.map((text) => chunk(serverEncrypt(KEY, NONCE, text)));
    const parse = vi.spyOn(JSON, 'parse');
    try {
      const { text, error } = await readAll(sourceOf(utf8.encode(`${sealed.map((data) => `data: ${data}\n\n`).join('')}data: [DONE]\n\n`)));
      expect(error).toBeUndefined();
      expect(text).toBe(`${texts.map((plain) => `data: ${chunk(plain)}\n\n`).join('')}data: [DONE]\n\n`);
      expect(parse.mock.calls.filter(([data]) => sealed.includes(data as string))).toHaveLength(1);
    } finally {
      parse.mockRestore();
    }
  });
});
