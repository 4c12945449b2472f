/** How `backend: 'auto' | 'node' | 'noble' | CryptoBackend` becomes one backend. */
import { nodeBackendMissing, type BackendChoice, type CryptoBackend } from './backend.js';
import { nobleBackend } from './noble.js';
import { nativeBackend } from '#crypto/native';

/**
 * `'auto'` (the default) is `node` where `#crypto/native` resolves to the `node:crypto` backend
 * (the `node` import condition: Node, Deno, Bun), `noble` elsewhere (browsers, edge runtimes).
 * Which one does not depend on which entry was imported first.
 */
export function resolveBackend(choice: BackendChoice = 'auto'): CryptoBackend {
  if (typeof choice === 'object') return choice;
  if (choice === 'noble') return nobleBackend;
  const node = nativeBackend();
  if (node) return node;
  if (choice === 'auto') return nobleBackend;
  throw nodeBackendMissing();
}

/**
 * The noble backend for an asynchronous session (session-crypto.ts), from this static import.
 * A function, not an arrow held in a constant: a mutation run switches a constant only at load.
 */
export async function loadNoble(): Promise<CryptoBackend> {
  return nobleBackend;
}
