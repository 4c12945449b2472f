/**
 * ark-e2ee: Volcengine Ark application-layer encryption for any fetch-based client. This is the
 * Node entry (the `node` export condition): the runtime-neutral surface of src/browser.ts plus the
 * undici interceptor. The `node:crypto` backend and the disk certificate cache are not set up
 * here: `#crypto/native` and `#certificates/files` (package.json `imports`) resolve to them under
 * the `node` condition whichever entry is loaded.
 */

export * from './browser.js';
export { arkEncryption, type ArkEncryptionInterceptorOptions } from './transport/undici/index.js';
