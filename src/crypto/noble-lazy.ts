/**
 * noble's P-256 and HKDF (noble.ts) as a chunk of its own, loaded on first need: how
 * createEncryptedFetch gets noble for a session (crypto/session-crypto.ts). An app that also
 * uses the synchronous API (createSession, resolveBackend), which imports noble.ts statically,
 * has the code up front anyway, and this import() then only resolves to it.
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
