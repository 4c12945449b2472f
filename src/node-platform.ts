/**
 * Loaded for its effect by the Node entry (src/index.ts), the CLI and `ark-e2ee/testing`: puts
 * the `node:crypto` backend, the disk certificate cache and the E2E_CERTIFICATE_PATH reader
 * behind the seam in src/platform.ts. Never reached from src/browser.ts, so browser bundles carry
 * none of them.
 */
import { certificateFileReader } from './certificates/certificate-file.js';
import { createDiskCache, defaultCacheDir } from './certificates/disk-cache.js';
import type { CryptoBackend } from './crypto/backend.js';
import { createNodeBackend, loadNodeCrypto } from './crypto/node.js';
import { installNodePlatform } from './platform.js';

let backend: CryptoBackend | null | undefined;

installNodePlatform({
  nodeBackend() {
    if (backend === undefined) {
      const crypto = loadNodeCrypto();
      backend = crypto ? createNodeBackend(crypto) : null;
    }
    return backend ?? undefined;
  },
  defaultCacheDir,
  createDiskCache,
  certificateFile: certificateFileReader,
});
