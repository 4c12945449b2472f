/** UTF-8 on any runtime (TextEncoder/TextDecoder are in every modern JS runtime). */
import { DecryptionFailedError } from '../errors.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function utf8Encode(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Strict decoding: an authenticated plaintext that is not UTF-8 is still refused. */
export function utf8Decode(bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new DecryptionFailedError(
      'answer text authenticated but is not valid UTF-8; the service sent bytes the protocol does not allow',
    );
  }
}

/** Longest text `utf8DecodeShort` builds in JS; longer ones go to the decoder. */
const SHORT_TEXT_BYTES = 64;

/**
 * `utf8Decode`, with short ASCII texts (a streamed chunk's few characters) made in JS: a call
 * into the native decoder costs more than the text. Anything else goes to `utf8Decode`.
 */
export function utf8DecodeShort(bytes: Uint8Array): string {
  const length = bytes.length;
  if (length > SHORT_TEXT_BYTES) return utf8Decode(bytes);
  let text = '';
  for (let i = 0; i < length; i++) {
    const byte = bytes[i]!;
    if (byte >= 0x80) return utf8Decode(bytes);
    text += String.fromCharCode(byte);
  }
  return text;
}
