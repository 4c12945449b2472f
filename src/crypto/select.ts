/** How `backend: 'auto' | 'node' | 'noble' | CryptoBackend` becomes one backend. */
import { ArkE2EEError } from '../errors.js';
import type { BackendChoice, CryptoBackend } from './backend.js';
import { createNodeBackend, loadNodeCrypto } from './node.js';
import { nobleBackend } from './noble.js';

let nodeBackend: CryptoBackend | null | undefined;

function getNodeBackend(): CryptoBackend | undefined {
  if (nodeBackend === undefined) {
    const crypto = loadNodeCrypto();
    nodeBackend = crypto ? createNodeBackend(crypto) : null;
  }
  return nodeBackend ?? undefined;
}

/** `'auto'` (the default) is `node` where `node:crypto` exists, `noble` elsewhere. */
export function resolveBackend(choice: BackendChoice = 'auto'): CryptoBackend {
  if (typeof choice === 'object') return choice;
  if (choice === 'noble') return nobleBackend;
  const node = getNodeBackend();
  if (node) return node;
  if (choice === 'auto') return nobleBackend;
  throw new ArkE2EEError(
    "backend 'node' needs node:crypto, which this runtime does not have; use 'noble' or 'auto'",
  );
}
