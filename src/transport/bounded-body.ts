/**
 * A JSON answer read to its end, but never past a size limit: a server that sends without end
 * (or announces more than the limit) gets its connection let go, and the caller a typed error
 * instead of a process that fills its memory.
 */
import { AnswerTooLargeError } from '../errors.js';

export function answerTooLarge(limit: number): AnswerTooLargeError {
  return new AnswerTooLargeError(
    `the answer is larger than ${limit} bytes (maxAnswerBytes); it was not read to its end and ` +
      'the connection was let go. Raise maxAnswerBytes if answers this large are expected',
    { limit },
  );
}

/** The body's text (UTF-8, as `Response.text()` decodes it), or `AnswerTooLargeError` past `limit` bytes. */
export async function boundedText(response: Response, limit: number): Promise<string> {
  const body = response.body;
  if (body === null) return '';
  const announced = Number(response.headers.get('content-length') ?? Number.NaN);
  const reader = body.getReader();
  if (announced > limit) {
    const error = answerTooLarge(limit);
    await reader.cancel(error).catch(() => {});
    throw error;
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      const error = answerTooLarge(limit);
      await reader.cancel(error).catch(() => {});
      throw error;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}
