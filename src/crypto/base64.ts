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
