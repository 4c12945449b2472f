/** A certificate's key pin as `serve` and `cert` print it. */
import { certificateKeyPin } from '../certificates/trust.js';

/**
 * The certificate's key pin (SHA-256 of its SubjectPublicKeyInfo, the value `pinnedKeys`
 * takes), in base64 and as colon-separated hex.
 */
export async function keyFingerprint(pem: string): Promise<{ hex: string; base64: string }> {
  const base64 = await certificateKeyPin(pem);
  return { hex: Buffer.from(base64, 'base64').toString('hex').match(/../g)!.join(':'), base64 };
}
