/**
 * The on-disk certificate cache `<dir>/<model>.pem` (protocol §1), the layout the official
 * Python and Go SDKs share (default `~/.ark/certificates`). Node only, loaded lazily.
 *
 * Files are written atomically (a temporary file renamed into place) with mode 0600 in a 0700
 * folder; a file readable by others is deleted rather than trusted. A folder we cannot write
 * means memory only, with one warning.
 */
import type * as Fs from 'node:fs/promises';
import type * as Os from 'node:os';
import type * as Path from 'node:path';
import { builtinModule, nodeProcess } from '../runtime.js';

export interface CachedCertificate {
  pem: string;
  /** The file's modification time, ms since the epoch: its age decides reloading (§1). */
  modifiedMs: number;
}

export interface CertificateStore {
  read(model: string): Promise<CachedCertificate | undefined>;
  write(model: string, pem: string): Promise<void>;
  remove(model: string): Promise<void>;
}

/** A model name that can safely become a file name: no separators, no `..`, no `:`. */
export function isSafeModelName(model: string): boolean {
  return (
    model.length > 0 &&
    model.length <= 200 &&
    !/[/\\:\0]/.test(model) &&
    !model.includes('..') &&
    model !== '.'
  );
}

/** `~/.ark/certificates`, or `undefined` off Node. */
export function defaultCacheDir(): string | undefined {
  const os = builtinModule<typeof Os>('node:os');
  const path = builtinModule<typeof Path>('node:path');
  return os && path ? path.join(os.homedir(), '.ark', 'certificates') : undefined;
}

const isPosix = (): boolean => nodeProcess()?.platform !== 'win32';

/** A disk store over `dir`, or `undefined` where there is no file system. */
export function createDiskCache(dir: string, warn: (message: string) => void): CertificateStore | undefined {
  const fs = builtinModule<typeof Fs>('node:fs/promises');
  const path = builtinModule<typeof Path>('node:path');
  if (!fs || !path) return undefined;
  let writable = true;
  const fileOf = (model: string): string | undefined =>
    isSafeModelName(model) ? path.join(dir, `${model}.pem`) : undefined;

  const remove = async (model: string): Promise<void> => {
    const file = fileOf(model);
    if (file) await fs.rm(file, { force: true }).catch(() => undefined);
  };

  return {
    async read(model) {
      const file = fileOf(model);
      if (!file) return undefined;
      try {
        const info = await fs.lstat(file);
        if (!info.isFile() || (isPosix() && (info.mode & 0o077) !== 0)) {
          // Not a plain private file: someone else could have written or read it.
          await remove(model);
          return undefined;
        }
        return { pem: await fs.readFile(file, 'utf8'), modifiedMs: info.mtimeMs };
      } catch {
        return undefined;
      }
    },

    async write(model, pem) {
      const file = fileOf(model);
      if (!file || !writable) return;
      const temporary = `${file}.${nodeProcess()?.pid ?? 0}.${Math.random().toString(36).slice(2)}.tmp`;
      try {
        await fs.mkdir(dir, { recursive: true, mode: 0o700 });
        if (isPosix() && ((await fs.stat(dir)).mode & 0o077) !== 0) await fs.chmod(dir, 0o700);
        await fs.writeFile(temporary, pem, { mode: 0o600, flag: 'wx' });
        await fs.rename(temporary, file);
      } catch (error) {
        await fs.rm(temporary, { force: true }).catch(() => undefined);
        // Writes for several models may be under way at once: only the first failure warns.
        if (!writable) return;
        writable = false;
        warn(
          `cannot write the certificate cache in ${dir} (${(error as Error).message}); ` +
            'keeping certificates in memory only. Set cacheDir to a writable folder, or false.',
        );
      }
    },

    remove,
  };
}
