/**
 * The seam between the runtime-neutral core and what only Node has. The core (the protocol, the
 * noble backend, the fetch transport, the in-memory certificate cache) never imports a Node-only
 * module of ours; the Node entry installs them here when it loads (src/node-platform.ts, imported
 * by src/index.ts, the CLI and `ark-e2ee/testing`). The browser entry (src/browser.ts) leaves
 * the seam empty: `backend: 'auto'` is then noble, and certificates stay in memory.
 */
import type { CertificateStore } from './certificates/disk-cache.js';
import type { CryptoBackend } from './crypto/backend.js';

export interface NodePlatform {
  /** The `node:crypto` backend, or `undefined` where this runtime has no `node:crypto`. */
  nodeBackend(): CryptoBackend | undefined;
  /** `~/.ark/certificates`, or `undefined` where there is no home folder. */
  defaultCacheDir(): string | undefined;
  /** The disk certificate cache over `dir`, or `undefined` where there is no file system. */
  createDiskCache(dir: string, warn: (message: string) => void): CertificateStore | undefined;
  /** The reader of the `E2E_CERTIFICATE_PATH` file (certificates/certificate-file.ts). */
  certificateFile(path: string): () => Promise<string>;
}

let installed: NodePlatform | undefined;

/** Called once by the Node entry; the browser entry never calls it. */
export function installNodePlatform(platform: NodePlatform): void {
  installed = platform;
}

/** The Node-only parts, when the Node entry has been loaded. */
export function nodePlatform(): NodePlatform | undefined {
  return installed;
}
