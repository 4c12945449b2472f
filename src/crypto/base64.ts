/**
 * Strict, canonical standard base64 (RFC 4648 §4, `+/`, `=` padding), on any runtime.
 *
 * Strictness is a security property here: a lenient decoder ignores the unused low bits of the
 * last character, so a flipped bit there would still decrypt and tampering would go unseen.
 * Where `Buffer` exists it does the bulk work (it is several times faster than JS); the input
 * is validated first, because `Buffer` itself is lenient. Elsewhere `atob`/`btoa` (every browser
 * and edge runtime has them) do it, on input validated the same way.
 */
interface BufferLike {
  from(input: Uint8Array | ArrayBufferLike | string, offsetOrEncoding?: number | string, length?: number): Uint8Array & {
    toString(encoding: string): string;
  };
}
const NodeBuffer = (globalThis as { Buffer?: BufferLike }).Buffer;

const BASE64_ALPHABET = /^[A-Za-z0-9+/]*$/;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

export function encodeBase64(bytes: Uint8Array): string {
  if (NodeBuffer) return NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64');
  let binary = '';
  // In slices: String.fromCharCode takes its arguments on the stack.
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/**
 * Whether `text[start..end)` is canonical base64: a multiple of 4 characters, only alphabet
 * characters before at most two `=` at the very end, and zero unused bits before the padding.
 */
export function isCanonicalBase64(text: string, start = 0, end = text.length): boolean {
  const length = end - start;
  if (length % 4 !== 0) return false;
  if (length === 0) return true;
  let padding = 0;
  if (text.charCodeAt(end - 1) === 61 /* = */) padding = text.charCodeAt(end - 2) === 61 ? 2 : 1;
  const body = start === 0 && end === text.length && padding === 0 ? text : text.slice(start, end - padding);
  if (!BASE64_ALPHABET.test(body)) return false;
  if (padding === 0) return true;
  // The last data character carries 4 (one '=') or 2 (two '=') unused bits; they must be zero.
  const last = ALPHABET.indexOf(text.charAt(end - padding - 1));
  const unusedMask = padding === 1 ? 0b11 : 0b1111;
  return (last & unusedMask) === 0;
}

/** Decodes canonical base64; `undefined` for anything else (never a partial result). */
export function decodeBase64(text: string, start = 0, end = text.length): Uint8Array | undefined {
  if (!isCanonicalBase64(text, start, end)) return undefined;
  const slice = start === 0 && end === text.length ? text : text.slice(start, end);
  if (NodeBuffer) {
    const buf = NodeBuffer.from(slice, 'base64');
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
  }
  const binary = atob(slice);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Each alphabet character's 6-bit value by character code (below 128), -1 for any other. */
const VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) VALUES[ALPHABET.charCodeAt(i)] = i;

function valueAt(text: string, index: number): number {
  const code = text.charCodeAt(index);
  return code < 128 ? VALUES[code]! : -1;
}

/**
 * `decodeBase64(text)` written into `out` (from index 0), in JS: for short texts, where the
 * regular expression, the slice and the `Buffer` it makes cost more than the decoding. The
 * number of bytes written; -1 when `text` is not canonical base64 or `out` has no room (then
 * `out` holds garbage). Same acceptance and bytes as `decodeBase64` (test/crypto/base64.test.ts).
 */
export function decodeBase64Into(text: string, out: Uint8Array): number {
  const length = text.length;
  if (length % 4 !== 0) return -1;
  let padding = 0;
  // An empty text reads charCodeAt(-1), NaN: no padding.
  if (text.charCodeAt(length - 1) === 61 /* = */) padding = text.charCodeAt(length - 2) === 61 ? 2 : 1;
  const size = (length / 4) * 3 - padding;
  if (size > out.length) return -1;
  const whole = length - (padding === 0 ? 0 : 4);
  let at = 0;
  for (let i = 0; i < whole; i += 4) {
    const a = valueAt(text, i);
    const b = valueAt(text, i + 1);
    const c = valueAt(text, i + 2);
    const d = valueAt(text, i + 3);
    if ((a | b | c | d) < 0) return -1;
    out[at++] = (a << 2) | (b >> 4);
    out[at++] = ((b & 15) << 4) | (c >> 2);
    out[at++] = ((c & 3) << 6) | d;
  }
  if (padding === 0) return at;
  // The last quantum: two characters and "==" (one byte), or three and "=" (two bytes); the
  // bits they carry past those bytes must be zero (canonical).
  const a = valueAt(text, whole);
  const b = valueAt(text, whole + 1);
  if ((a | b) < 0) return -1;
  out[at++] = (a << 2) | (b >> 4);
  if (padding === 2) return (b & 15) === 0 ? at : -1;
  const c = valueAt(text, whole + 2);
  // A character outside the alphabet (-1, all bits set) has its low bits set too.
  if ((c & 3) !== 0) return -1;
  out[at++] = ((b & 15) << 4) | (c >> 2);
  return at;
}
