/** How `backend: 'auto' | 'node' | 'noble' | CryptoBackend` becomes one backend. */
import { ArkE2EEError } from '../errors.js';
import { nodePlatform } from '../platform.js';
import type { BackendChoice, CryptoBackend } from './backend.js';
import { nobleBackend } from './noble.js';

/**
 * `'auto'` (the default) is `node` where `node:crypto` exists and the Node entry is loaded,
 * `noble` elsewhere (browsers, edge runtimes, the `browser` build).
 */
export function resolveBackend(choice: BackendChoice = 'auto'): CryptoBackend {
  if (typeof choice === 'object') return choice;
  if (choice === 'noble') return nobleBackend;
  const node = nodePlatform()?.nodeBackend();
  if (node) return node;
  if (choice === 'auto') return nobleBackend;
  throw new ArkE2EEError(
    "backend 'node' needs node:crypto (and the library's Node entry), which this runtime does not have; " +
      "use 'noble' or 'auto'",
  );
}
