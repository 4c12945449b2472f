/**
 * The two size limits on their own (issue 16): boundedText (maxAnswerBytes, an answer the
 * library reads whole to decrypt it) and limitedBody (the proxy's maxRequestBytes, a request it
 * holds whole to encrypt it). Each is checked at its exact bound, for a declared length and for
 * bytes counted as they come, and for what the refusal tells the user and does to the stream.
 */
import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { AnswerTooLargeError, RequestTooLargeError } from '../../src/errors.js';
import { boundedText } from '../../src/transport/bounded-body.js';
import { limitedBody } from '../../src/transport/proxy-body.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

/** A Response whose body comes in `chunks`, recording the reason it was cancelled with. */
function chunked(chunks: Uint8Array[], headers: Record<string, string> = {}): { response: Response; cancelled: unknown[]; pulled: () => number } {
  const cancelled: unknown[] = [];
  let next = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (next < chunks.length) controller.enqueue(chunks[next++]!);
      else controller.close();
    },
    cancel(reason) {
      cancelled.push(reason);
    },
  }, { highWaterMark: 0 });
  return { response: new Response(stream, { headers }), cancelled, pulled: () => next };
}

describe('boundedText (maxAnswerBytes)', () => {
  it('reads an answer of exactly the limit, in several chunks, in order, as UTF-8', async () => {
    const { response, cancelled } = chunked([bytes('ab'), bytes('c\u00e9'), bytes('d')], { 'content-length': '6' });
    expect(await boundedText(response, 6)).toBe('abc\u00e9d');
    expect(cancelled).toEqual([]);
  });

  it('one byte past the limit, counted as it comes: refused with the code, the limit and the advice, the stream cancelled', async () => {
    const { response, cancelled } = chunked([bytes('abc'), bytes('defg'), bytes('never read')]);
    const error = await boundedText(response, 6).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AnswerTooLargeError);
    expect(error).toMatchObject({ code: 'ERR_ARK_E2EE_ANSWER_TOO_LARGE', limit: 6 });
    expect((error as Error).message).toBe(
      'the answer is larger than 6 bytes (maxAnswerBytes); it was not read to its end and the connection was let go. ' +
        'Raise maxAnswerBytes if answers this large are expected',
    );
    expect(cancelled).toEqual([error]);
  });

  it('a declared length one past the limit is refused before a byte is read; one at the limit is read', async () => {
    const over = chunked([bytes('abc')], { 'content-length': '4' });
    const error = await boundedText(over.response, 3).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_ARK_E2EE_ANSWER_TOO_LARGE', limit: 3 });
    expect(over.cancelled).toEqual([error]);
    expect(over.pulled()).toBe(0);
    const at = chunked([bytes('abc')], { 'content-length': '3' });
    expect(await boundedText(at.response, 3)).toBe('abc');
  });

  it('a declared length that lies low does not let more bytes through', async () => {
    const { response } = chunked([bytes('abcd')], { 'content-length': '1' });
    await expect(boundedText(response, 3)).rejects.toMatchObject({ code: 'ERR_ARK_E2EE_ANSWER_TOO_LARGE' });
  });

  it('no body is the empty text', async () => {
    expect(await boundedText(new Response(null, { status: 204 }), 0)).toBe('');
  });
});

/** An IncomingMessage double: a Readable with headers, pushing `chunks` then ending (or erroring). */
function incoming(chunks: string[], headers: Record<string, string> = {}, end: 'end' | 'error' | 'close' = 'end'): IncomingMessage & Readable {
  const stream = new Readable({ read() {} });
  Object.assign(stream, { headers });
  setImmediate(() => {
    for (const chunk of chunks) stream.push(Buffer.from(chunk));
    if (end === 'end') stream.push(null);
    else if (end === 'error') stream.destroy(new Error('socket hang up'));
    else stream.emit('close');
  });
  return stream as unknown as IncomingMessage & Readable;
}

const refusal = (limit: number): string =>
  `the request body is larger than ${limit} bytes, the most this proxy holds to encrypt a request (--max-body, ` +
  'maxRequestBytes); nothing was sent. Send a smaller body, or start the proxy with a larger --max-body';

describe('limitedBody (maxRequestBytes)', () => {
  it('reads a body of exactly the limit, in order, as bytes; asks for it once', async () => {
    let wanted = 0;
    const request = incoming(['ab', 'c\u00e9'], { 'content-length': '5' });
    const body = await limitedBody(request, 5, () => wanted++);
    expect(new TextDecoder().decode(body)).toBe('abc\u00e9');
    expect(body.byteLength).toBe(5);
    expect(wanted).toBe(1);
    for (const event of ['data', 'end', 'error', 'close']) expect(request.listenerCount(event), event).toBe(0);
  });

  it('a declared length one past the limit is refused before the body is asked for', async () => {
    let wanted = 0;
    const error = await limitedBody(incoming(['abcd'], { 'content-length': '4' }), 3, () => wanted++).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RequestTooLargeError);
    expect(error).toMatchObject({ code: 'ERR_ARK_E2EE_REQUEST_TOO_LARGE', limit: 3, message: refusal(3) });
    expect(wanted).toBe(0);
  });

  it('one byte past the limit, counted as it comes: refused, reading paused, the listeners gone', async () => {
    const request = incoming(['abc', 'd', 'efgh']);
    const error = await limitedBody(request, 3).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_ARK_E2EE_REQUEST_TOO_LARGE', limit: 3, message: refusal(3) });
    expect(request.isPaused()).toBe(true);
    for (const event of ['data', 'end', 'error', 'close']) expect(request.listenerCount(event), event).toBe(0);
  });

  it('a stream error, and a close before the end, reject with that cause', async () => {
    await expect(limitedBody(incoming(['ab'], {}, 'error'), 10)).rejects.toThrow('socket hang up');
    const request = incoming(['ab'], {}, 'close');
    await expect(limitedBody(request, 10)).rejects.toThrow('the client closed the connection before the request body ended');
    for (const event of ['data', 'end', 'error', 'close']) expect(request.listenerCount(event), event).toBe(0);
  });
});
