/**
 * Whether `fetch` has already undone an answer's content codings, so that its body is no longer
 * what the `content-encoding` and `content-length` headers describe. The rule is that of
 * undici's fetch (Node's own, Fetch standard §4.6 "HTTP-network fetch"): a HEAD and an answer
 * without a body (101, 204, 205, 304) are left alone, and the codings are undone only when fetch
 * knows every one of them, the first unknown (an empty one too: `gzip,`) stopping it from
 * undoing any. A proxy that drops those headers when fetch did not decode would pass compressed
 * bytes on as if they were plain.
 */
import zlib from 'node:zlib';

/** Answers fetch gives no body, whatever their headers say. */
const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

/** Codings fetch undoes; zstd only where the runtime's zlib has it (Node ≥ 22.15, 23.8). */
const DECODED_CODINGS = new Set(['gzip', 'x-gzip', 'deflate', 'br']);
if (typeof (zlib as { createZstdDecompress?: unknown }).createZstdDecompress === 'function') DECODED_CODINGS.add('zstd');

export function decodedByFetch(method: string, status: number, contentEncoding: string | null): boolean {
  if (contentEncoding === null || method === 'HEAD' || NULL_BODY_STATUSES.has(status)) return false;
  return contentEncoding.split(',').every((coding) => DECODED_CODINGS.has(coding.trim().toLowerCase()));
}
