/**
 * `#crypto/native` under the `node` condition (package.json `imports`): the `node:crypto`
 * (OpenSSL) backend. Runtimes that resolve the `node` condition (Node, Deno, Bun) have
 * `node:crypto`; bundles for browsers and edge runtimes take native-none.ts instead, so this file
 * and its static `node:` import never reach them.
 */
import nodeCrypto from 'node:crypto';
import type { CryptoBackend } from './backend.js';
import { createNodeBackend } from './node.js';

let backend: CryptoBackend | undefined;

/** The `node:crypto` backend, made once. */
export function nativeBackend(): CryptoBackend | undefined {
  return (backend ??= createNodeBackend(nodeCrypto));
}
