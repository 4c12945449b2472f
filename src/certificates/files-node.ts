/**
 * `#certificates/files` under the `node` condition (package.json `imports`): the disk
 * certificate cache and the `E2E_CERTIFICATE_PATH` reader, both on `node:fs`. Elsewhere
 * files-none.ts answers that there is no file system.
 */
export { certificateFileReader } from './certificate-file.js';
export { createDiskCache, defaultCacheDir } from './disk-cache.js';
