/**
 * The on-disk certificate cache (protocol §1; docs/protocol.md says which file serves which
 * request). Node only, reached through `#certificates/files` (files-node.ts).
 *
 * - The official service's default base URL uses the SDKs' own layout `<cacheDir>/<model>.pem`
 *   (default `~/.ark/certificates`), shared with the Python, Go and Java SDKs both ways.
 * - Every other base URL uses `<cacheDir>/by-origin/<folder>/<model>.pem`, `<folder>` naming
 *   that one base URL (origin.ts), so one origin's certificate never serves another.
 * - Reading: safe-file.ts. A file that fails its checks is never used, never deleted, and
 *   replaced only if it is ours; one warning names it.
 * - Writing: a temporary file renamed into place, never over a file another user owns; mode
 *   0644 for a new file (a certificate is public), the old readable bits when replacing, never
 *   group- or other-writable. New folders are 0700 (which models one uses is one's own business);
 *   existing folders keep their mode. A folder we cannot write means memory only, one warning.
 */
import { createHash } from 'node:crypto';
import { readableFolderName, sharesSdkLayout } from './origin.js';
import { currentUid, folderProblem, isWindows, nodeFs, readCertificateFile, type NodeFs } from './safe-file.js';

export interface CachedCertificate {
  pem: string;
  /** The file's modification time, ms since the epoch: its age decides reloading (§1). */
  modifiedMs: number;
  /** Where it was read from. */
  file?: string;
}

export interface CertificateStore {
  /** The file that holds `model`'s certificate from `baseUrl`; `undefined`: never on disk. */
  fileFor(baseUrl: string, model: string): string | undefined;
  read(baseUrl: string, model: string): Promise<CachedCertificate | undefined>;
  write(baseUrl: string, model: string, pem: string): Promise<void>;
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

/** `~/.ark/certificates`. */
export function defaultCacheDir(): string | undefined {
  const { path, os } = nodeFs();
  return path.join(os.homedir(), '.ark', 'certificates');
}

/** The folder, under `<cacheDir>/by-origin`, of a base URL that is not the official default. */
export function originFolderName(baseUrl: string): string {
  const readable = readableFolderName(baseUrl);
  if (readable !== undefined) return readable;
  return `sha256-${createHash('sha256').update(baseUrl).digest('hex')}`;
}

/**
 * The mode a written file gets: 0644 when new, else the old readable bits (never g/o-write).
 * A function, not an arrow held in a constant: a mutation run switches a constant only at load.
 */
function modeFor(old: number | undefined): number {
  return old === undefined ? 0o644 : (old & 0o644) | 0o600;
}

/** A disk store over `dir`, or `undefined` where there is no file system. */
export function createDiskCache(dir: string, warn: (message: string) => void): CertificateStore | undefined {
  const node = nodeFs();
  const { fs, path } = node;
  const root = path.resolve(dir);
  let writable = true;
  /** Files (or their folders) found unsafe and not ours: never used, never written. */
  const blocked = new Set<string>();
  const warned = new Set<string>();
  const warnOnce = (key: string, message: string): void => {
    if (warned.has(key)) return;
    warned.add(key);
    warn(message);
  };

  const fileFor = (baseUrl: string, model: string): string | undefined => {
    if (!isSafeModelName(model)) return undefined;
    const name = `${model}.pem`;
    return sharesSdkLayout(baseUrl) ? path.join(root, name) : path.join(root, 'by-origin', originFolderName(baseUrl), name);
  };

  /** The file's path with the links in its folders resolved, or `undefined` if a folder is missing. */
  const resolved = async (file: string): Promise<string | undefined> => {
    try {
      return path.join(await fs.realpath(path.dirname(file)), path.basename(file));
    } catch {
      return undefined;
    }
  };

  const refuse = (file: string, reason: string, ours: boolean): undefined => {
    if (!ours) blocked.add(file);
    warnOnce(
      file,
      `not using the cached certificate ${file}: ${reason}. ` +
        (ours ? 'Fetching it again to replace it.' : 'Fetching it again and keeping it in memory only; remove the file or fix its folder.'),
    );
    return undefined;
  };

  return {
    fileFor,

    async read(baseUrl, model) {
      const file = fileFor(baseUrl, model);
      if (!file) return undefined;
      const real = await resolved(file);
      if (real === undefined) return undefined;
      try {
        const problem = (await folderProblem(node, path.dirname(file))) ?? (await folderProblem(node, path.dirname(real)));
        if (problem !== undefined) return refuse(file, problem, false);
        const verdict = await readCertificateFile(node, real);
        if (verdict.kind === 'absent') return undefined;
        if (verdict.kind === 'unsafe') return refuse(file, verdict.reason, verdict.ours);
        return { pem: verdict.pem, modifiedMs: verdict.modifiedMs, file };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        return refuse(file, (error as Error).message, false);
      }
    },

    async write(baseUrl, model, pem) {
      const file = fileFor(baseUrl, model);
      if (!file || !writable || blocked.has(file)) return;
      const folder = path.dirname(file);
      let temp: string | undefined;
      try {
        await fs.mkdir(folder, { recursive: true, mode: 0o700 });
        const realFolder = await fs.realpath(folder);
        const problem = (await folderProblem(node, folder)) ?? (await folderProblem(node, realFolder));
        if (problem !== undefined) {
          blocked.add(file);
          warnOnce(file, `not caching the certificate in ${file}: ${problem}. Keeping it in memory only; fix the folder.`);
          return;
        }
        const target = path.join(realFolder, path.basename(file));
        const old = await fs.lstat(target).catch(() => undefined);
        const me = currentUid();
        if (old !== undefined && !isWindows() && me !== undefined && old.uid !== me) {
          refuse(file, `it belongs to another user (uid ${old.uid})`, false);
          return;
        }
        temp = `${target}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
        await writeTemporary(node, temp, pem, modeFor(old?.isFile() ? old.mode : undefined));
        await fs.rename(temp, target);
      } catch (error) {
        if (temp !== undefined) await fs.rm(temp, { force: true }).catch(() => undefined);
        // Writes for several models may be under way at once: only the first failure warns.
        if (!writable) return;
        writable = false;
        warn(
          `cannot write the certificate cache in ${dir} (${(error as Error).message}); ` +
            'keeping certificates in memory only. Set cacheDir to a writable folder, or false.',
        );
      }
    },
  };
}

/** A new file (O_EXCL: never an existing file or link) holding `pem`, with exactly `mode`. */
async function writeTemporary({ fs }: NodeFs, temp: string, pem: string, mode: number): Promise<void> {
  await fs.writeFile(temp, pem, { mode: 0o600, flag: 'wx' });
  // writeFile's mode is narrowed by the umask; the cache's mode is this module's choice.
  if (!isWindows()) await fs.chmod(temp, mode);
}
