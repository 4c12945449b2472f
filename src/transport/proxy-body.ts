/**
 * The body of a request the proxy encrypts, read with a limit (proxy.ts, `maxRequestBytes`).
 */
import type { IncomingMessage } from 'node:http';
import { RequestTooLargeError } from '../errors.js';

export { RequestTooLargeError };

function tooLarge(limit: number): RequestTooLargeError {
  return new RequestTooLargeError(
    `the request body is larger than ${limit} bytes, the most this proxy holds to encrypt a ` +
      'request (--max-body, maxRequestBytes); nothing was sent. Send a smaller body, or start ' +
      'the proxy with a larger --max-body',
    { limit },
  );
}

/**
 * The body of a request the proxy encrypts, as bytes. It must be held whole (its JSON is parsed
 * and made anew), so it is read up to `limit` bytes and no further: a declared length over the
 * limit is refused before a byte is read; a chunked body is counted as it comes in, and reading
 * stops at the chunk that passes the limit (the proxy then answers 413 and closes the connection).
 * `wanted` is called once the body is to be read (the proxy sends "100 Continue" then).
 */
export function limitedBody(request: IncomingMessage, limit: number, wanted: () => void = () => undefined): Promise<Uint8Array> {
  const declared = Number(request.headers['content-length'] ?? Number.NaN);
  if (declared > limit) return Promise.reject(tooLarge(limit));
  // Only now may a client that waits for "100 Continue" send its body.
  wanted();
  return new Promise<Uint8Array>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (): void => {
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onError);
      request.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.byteLength;
      if (size > limit) {
        stop();
        request.pause();
        chunks.length = 0;
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      stop();
      // Bytes, not text: the encryptor decodes them strictly (bytes that are not UTF-8 are refused).
      const joined = Buffer.concat(chunks, size);
      resolve(new Uint8Array(joined.buffer, joined.byteOffset, joined.byteLength));
    };
    const onError = (error: Error): void => {
      stop();
      reject(error);
    };
    const onClose = (): void => onError(new Error('the client closed the connection before the request body ended'));
    request.on('data', onData);
    request.on('end', onEnd);
    request.on('error', onError);
    request.on('close', onClose);
  });
}
