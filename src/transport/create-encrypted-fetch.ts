/**
 * createEncryptedFetch: a function with fetch's signature that encrypts the chat completions
 * that carry `x-is-encrypted: true` and decrypts their answers; every other request passes
 * through untouched. Give it to any fetch-based client (`openai`, Vercel AI SDK, LangChain…).
 *
 * A session that needs noble's P-256 (backend 'noble', no `crypto.subtle`, a fixed test scalar)
 * loads it on first need (crypto/noble-lazy.ts): a browser bundle of an app that only encrypts
 * its requests then keeps the curve code out of what loads first (docs/performance.md, bundle
 * size). The work is in encrypted-fetch.ts.
 */
import { loadNobleOnDemand } from '../crypto/noble-lazy.js';
import { encryptedFetchWith, type EncryptedFetchOptions } from './encrypted-fetch.js';

export function createEncryptedFetch(options: EncryptedFetchOptions = {}): typeof fetch {
  return encryptedFetchWith(loadNobleOnDemand, options);
}
