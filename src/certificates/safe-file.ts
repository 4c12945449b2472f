/**
 * Reading a cached certificate file so that no other local user can choose what is read
 * (docs/security.md, "The certificate cache and other local users"). Node only.
 *
 * POSIX:
 * 1. Every folder from the file's own up to the home folder (or, outside home, up to `/`) is a
 *    real folder owned by this user or root, and writable by nobody else, unless it is sticky
 *    (like /tmp: others cannot rename or remove what is ours there). No other user can then
 *    rename a folder, swap one for a link, or put a file into the cache's path: checking the
 *    path first and opening it after is not a race another user can win.
 * 2. The file is opened without following a link (O_NOFOLLOW) and without blocking (a FIFO),
 *    and the open handle is checked (fstat), never the path: a regular file with one link (a
 *    hard link could make another origin's file, ours, appear here), owned by this user (or
 *    root, who can replace any file anyway), not writable by group or others, at most 64 KiB.
 *
 * Windows has no owner or mode bits that Node reports meaningfully: there the file must be a
 * regular file with one link, not a link or junction (checked by lstat before the open, which
 * is not race-free) and at most 64 KiB; the folder's ACL (a profile folder is private) is
 * what keeps other users out.
 */
// Default imports: the modules' own objects, whose functions are looked up at each call (the
// tests replace some to simulate failing disks).
import fsSync from 'node:fs';
import fsPromises from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** A certificate, with intermediates, is a few KiB; anything larger is not one. */
export const MAX_CERTIFICATE_FILE_BYTES = 64 * 1024;

export type FileVerdict =
  | { kind: 'absent' }
  | { kind: 'found'; pem: string; modifiedMs: number; mode: number }
  /** `ours`: this user owns the entry and may replace it (a rename); else it is left alone. */
  | { kind: 'unsafe'; reason: string; ours: boolean };

export interface NodeFs {
  fs: typeof fsPromises;
  constants: typeof fsSync.constants;
  path: typeof path;
  os: typeof os;
}

const NODE_FS: NodeFs = { fs: fsPromises, constants: fsSync.constants, path, os };

export function nodeFs(): NodeFs {
  return NODE_FS;
}

export const isWindows = (): boolean => process.platform === 'win32';

/** This process's user id; `undefined` where there is none (Windows). */
export function currentUid(): number | undefined {
  return typeof process.getuid === 'function' ? process.getuid() : undefined;
}

const STICKY = 0o1000;

/** Whether `uid` is this user or root (root can replace any file whatever we check). */
const trustedOwner = (uid: number, me: number): boolean => uid === me || uid === 0;

/**
 * Why `folder` (an absolute path) or one of its parents is unsafe, or `undefined` when none is.
 * Stops after the home folder when `folder` is inside it. A link on the way is allowed when
 * this user or root owns it (its own folder is checked next, so nobody else can change it); the
 * caller checks the path with links resolved as well, so both the folders walked through and
 * the folders reached are checked.
 */
export async function folderProblem(node: NodeFs, folder: string): Promise<string | undefined> {
  const me = currentUid();
  if (me === undefined || isWindows()) return undefined;
  const { fs, path } = node;
  const home = node.os.homedir();
  const homes = new Set([home, await fs.realpath(home).catch(() => home)]);
  const insideHome = [...homes].some((h) => folder === h || folder.startsWith(h.endsWith(path.sep) ? h : h + path.sep));
  for (let current = folder; ; current = path.dirname(current)) {
    const entry = await fs.lstat(current);
    if (!trustedOwner(entry.uid, me)) return `${current} belongs to another user (uid ${entry.uid})`;
    const info = entry.isSymbolicLink() ? await fs.stat(current) : entry;
    if (!info.isDirectory()) return `${current} is not a folder`;
    if (entry !== info && !trustedOwner(info.uid, me)) return `${current} leads to a folder of another user (uid ${info.uid})`;
    if ((entry.mode & 0o022) !== 0 && (entry.mode & STICKY) === 0 && !entry.isSymbolicLink()) {
      return `the folder ${current} can be written by other users (mode ${(entry.mode & 0o7777).toString(8)})`;
    }
    if ((insideHome && homes.has(current)) || path.dirname(current) === current) return undefined;
  }
}

/** Reads `file` (under folders `folderProblem` has passed) as the module comment says. */
export async function readCertificateFile(node: NodeFs, file: string): Promise<FileVerdict> {
  const { fs, constants } = node;
  const me = currentUid();
  const windows = isWindows() || me === undefined;
  if (windows) {
    const link = await fs.lstat(file).catch(() => undefined);
    if (link === undefined) return { kind: 'absent' };
    if (link.isSymbolicLink()) return { kind: 'unsafe', reason: 'it is a link', ours: true };
  }
  const flags = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);
  let handle: fsPromises.FileHandle;
  try {
    handle = await fs.open(file, flags);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { kind: 'absent' };
    if (code === 'ELOOP' || code === 'EMLINK') {
      const link = await fs.lstat(file).catch(() => undefined);
      return { kind: 'unsafe', reason: 'it is a symbolic link', ours: link !== undefined && link.uid === me };
    }
    return { kind: 'unsafe', reason: `it cannot be opened (${(error as Error).message})`, ours: false };
  }
  try {
    const info = await handle.stat();
    const ours = windows || info.uid === me;
    if (!info.isFile()) return { kind: 'unsafe', reason: 'it is not a regular file', ours: ours && !info.isDirectory() };
    if (info.nlink !== 1) return { kind: 'unsafe', reason: `it has ${info.nlink} hard links`, ours };
    if (!windows && !trustedOwner(info.uid, me)) return { kind: 'unsafe', reason: `it belongs to another user (uid ${info.uid})`, ours: false };
    if (!windows && (info.mode & 0o022) !== 0) {
      return { kind: 'unsafe', reason: `other users can write it (mode ${(info.mode & 0o777).toString(8)})`, ours };
    }
    if (info.size > MAX_CERTIFICATE_FILE_BYTES) return { kind: 'unsafe', reason: `it is larger than ${MAX_CERTIFICATE_FILE_BYTES} bytes`, ours };
    const buffer = new Uint8Array(MAX_CERTIFICATE_FILE_BYTES + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > MAX_CERTIFICATE_FILE_BYTES) return { kind: 'unsafe', reason: `it is larger than ${MAX_CERTIFICATE_FILE_BYTES} bytes`, ours };
    }
    return { kind: 'found', pem: new TextDecoder().decode(buffer.subarray(0, length)), modifiedMs: info.mtimeMs, mode: info.mode & 0o777 };
  } finally {
    await handle.close();
  }
}
