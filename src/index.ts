/**
 * ark-e2ee: Volcengine Ark application-layer encryption for any fetch-based client. This is the
 * Node entry (the `node` export condition): the runtime-neutral surface of src/browser.ts, with
 * the `node:crypto` backend and the disk certificate cache installed, plus the undici
 * interceptor.
 */
import './node-platform.js';

export * from './browser.js';
export { arkEncryption, type ArkEncryptionInterceptorOptions } from './transport/undici.js';
