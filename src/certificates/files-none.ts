/**
 * `#certificates/files` where the `node` condition does not apply (browsers, edge runtimes):
 * no file system, so no disk cache (certificates stay in memory) and no `E2E_CERTIFICATE_PATH`
 * reader (transport/encryptor.ts then refuses the variable with InvalidCertificateError).
 */
import type { CertificateStore } from './disk-cache.js';

/** No home folder: no default cache folder. */
// Stryker disable next-line BlockStatement: an emptied body returns undefined too
export function defaultCacheDir(): string | undefined {
  return undefined;
}

/** No file system: no disk cache. */
// Stryker disable next-line BlockStatement: an emptied body returns undefined too
export function createDiskCache(_dir: string, _warn: (message: string) => void): CertificateStore | undefined {
  return undefined;
}

/** No file system: no reader for a certificate file. */
// Stryker disable next-line BlockStatement: an emptied body returns undefined too
export function certificateFileReader(_path: string): (() => Promise<string>) | undefined {
  return undefined;
}
