/**
 * `#crypto/native` where the `node` condition does not apply (browsers, edge runtimes, the
 * browser bundle): there is no native backend, so `backend: 'auto'` is noble and
 * `backend: 'node'` is refused (crypto/select.ts).
 */
import type { CryptoBackend } from './backend.js';

// Stryker disable next-line BlockStatement: an emptied body returns undefined too
export function nativeBackend(): CryptoBackend | undefined {
  return undefined;
}
