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
