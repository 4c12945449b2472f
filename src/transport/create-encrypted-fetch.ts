/**
 * createEncryptedFetch: a function with fetch's signature that encrypts the chat completions
 * that carry `x-is-encrypted: true` and decrypts their answers; every other request passes
 * through untouched. Give it to any fetch-based client (`openai`, Vercel AI SDK, LangChain…).
 *
 * This is the main entries' (`ark-e2ee`): a session that needs noble takes it from the static
 * import their synchronous API has anyway. `ark-e2ee/fetch` (src/fetch.ts) makes the same
 * function with noble loaded on demand instead; the work is in encrypted-fetch.ts.
 */
import { loadNoble } from '../crypto/select.js';
import { encryptedFetchWith, type EncryptedFetchOptions } from './encrypted-fetch.js';

export function createEncryptedFetch(options: EncryptedFetchOptions = {}): typeof fetch {
  return encryptedFetchWith(loadNoble, options);
}
