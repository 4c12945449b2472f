/**
 * noble's P-256 and HKDF (noble.ts) as a chunk of its own, loaded on first need: how
 * `ark-e2ee/fetch` (src/fetch.ts) gets noble for a session (crypto/session-crypto.ts). Nothing the
 * main entries reach imports this file: their synchronous API imports noble.ts statically anyway,
 * and a dynamic import of a module also imported statically would only add a chunk boundary.
 */
import { ArkE2EEError } from '../errors.js';
import type { CryptoBackend } from './backend.js';

/** Loaded once; a failed load is not kept, so the next session tries again. */
let noble: Promise<CryptoBackend> | undefined;

export function loadNobleOnDemand(): Promise<CryptoBackend> {
  noble ??= import('./noble.js').then(
    (module) => module.nobleBackend,
    (error: unknown) => {
      noble = undefined;
      throw new ArkE2EEError(
        `could not load the pure-JavaScript P-256 code (noble) for this session: ${String(error)}; nothing was sent. ` +
          'Check that the bundle’s chunks are served, or run where crypto.subtle exists (https or localhost)',
      );
    },
  );
  return noble;
}
