/**
 * src/certificates/safe-file.ts, checked directly (docs/security.md, "Mutation testing"). The
 * disk cache's own tests run as whatever user the machine gives, often root, where "this user"
 * and "root" are the same uid and half of the owner rule cannot fail; so these tests also run
 * the checks as an ordinary user (uid 1000, `process.getuid` stubbed) over files root made, and
 * as Windows (`process.platform` stubbed). Each case names the verdict it expects in full.
 */
import { execFileSync } from 'node:child_process';
import fsPromises, { chmod, chown, lchown, mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import {
  MAX_CERTIFICATE_FILE_BYTES,
  currentUid,
  folderProblem,
  isWindows,
  nodeFs,
  readCertificateFile,
  type NodeFs,
} from '../../src/certificates/safe-file.js';
import { PLAIN, removeDir } from '../certificates/helpers.js';

const posix = process.platform !== 'win32';
const isRoot = process.getuid?.() === 0;
/** An ordinary user's uid, and one no account has. */
const USER = 1000;
const OTHER = 12345;

let tmp: string;
beforeEach(async () => {
  tmp = await mkdtemp(join(os.tmpdir(), 'ark-e2ee-safe-file-'));
});
afterEach(async () => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
  await removeDir(tmp);
});

const node = nodeFs();
const asUser = (uid: number) => vi.spyOn(process, 'getuid').mockReturnValue(uid);

function asPlatform(platform: NodeJS.Platform): void {
  const original = Object.getOwnPropertyDescriptor(process, 'platform')!;
  Object.defineProperty(process, 'platform', { ...original, value: platform });
  onTestFinished(() => {
    Object.defineProperty(process, 'platform', original);
  });
}

async function fileWith(name: string, contents: string | Uint8Array, mode = 0o644): Promise<string> {
  const file = join(tmp, name);
  await writeFile(file, contents, { mode });
  await chmod(file, mode);
  return file;
}

describe('who runs the checks', () => {
  it('is the process uid, or nobody where the runtime has none (Windows)', () => {
    expect(currentUid()).toBe(process.getuid?.());
    const getuid = process.getuid;
    Object.defineProperty(process, 'getuid', { value: undefined, configurable: true, writable: true });
    try {
      expect(currentUid()).toBeUndefined();
    } finally {
      Object.defineProperty(process, 'getuid', { value: getuid, configurable: true, writable: true });
    }
  });

  it('is Windows only on win32', () => {
    expect(isWindows()).toBe(process.platform === 'win32');
    asPlatform('win32');
    expect(isWindows()).toBe(true);
  });
});

describe.skipIf(!posix || !isRoot)('the owner rule, as an ordinary user', () => {
  it("uses a file root owns (root can replace any file anyway), but does not count it as this user's", async () => {
    const file = await fileWith('root.pem', PLAIN);
    asUser(USER);
    expect(await readCertificateFile(node, file)).toMatchObject({ kind: 'found', pem: PLAIN });
    await chmod(file, 0o666);
    expect(await readCertificateFile(node, file)).toEqual({ kind: 'unsafe', reason: 'other users can write it (mode 666)', ours: false });
    await chown(file, USER, USER);
    expect(await readCertificateFile(node, file)).toEqual({ kind: 'unsafe', reason: 'other users can write it (mode 666)', ours: true });
  });

  it("refuses another user's file as not ours, with the uid", async () => {
    const file = await fileWith('other.pem', PLAIN);
    await chown(file, OTHER, OTHER);
    asUser(USER);
    expect(await readCertificateFile(node, file)).toEqual({ kind: 'unsafe', reason: `it belongs to another user (uid ${OTHER})`, ours: false });
  });

  it('counts a link as ours only when this user owns the link', async () => {
    const target = await fileWith('target.pem', PLAIN);
    const file = join(tmp, 'link.pem');
    await symlink(target, file);
    asUser(USER);
    expect(await readCertificateFile(node, file)).toEqual({ kind: 'unsafe', reason: 'it is a symbolic link', ours: false });
    await lchown(file, USER, USER);
    expect(await readCertificateFile(node, file)).toEqual({ kind: 'unsafe', reason: 'it is a symbolic link', ours: true });
  });

  it('takes folders root owns, refuses a folder of another user and a link that leads to one', async () => {
    const folder = join(tmp, 'a', 'b');
    await mkdir(folder, { recursive: true });
    asUser(USER);
    expect(await folderProblem(node, folder)).toBeUndefined();
    await chown(join(tmp, 'a'), OTHER, OTHER);
    expect(await folderProblem(node, folder)).toBe(`${join(tmp, 'a')} belongs to another user (uid ${OTHER})`);
    await chown(join(tmp, 'a'), 0, 0);
    const theirs = join(tmp, 'theirs');
    await mkdir(theirs);
    await chown(theirs, OTHER, OTHER);
    await symlink(theirs, join(folder, 'link'));
    expect(await folderProblem(node, join(folder, 'link'))).toBe(`${join(folder, 'link')} leads to a folder of another user (uid ${OTHER})`);
  });
});

describe.skipIf(!posix)('folders', () => {
  it('refuses a folder on the way that is a link to a file', async () => {
    const file = await fileWith('a-file', 'x');
    await symlink(file, join(tmp, 'folder'));
    expect(await folderProblem(node, join(tmp, 'folder'))).toBe(`${join(tmp, 'folder')} is not a folder`);
  });

  it('walks up to the home folder and stops there: what is above home is not its concern', async () => {
    const open = join(tmp, 'open');
    const home = join(open, 'home');
    await mkdir(join(home, '.ark', 'certificates'), { recursive: true, mode: 0o700 });
    await chmod(open, 0o777);
    vi.spyOn(os, 'homedir').mockReturnValue(home);
    expect(await folderProblem(node, join(home, '.ark', 'certificates'))).toBeUndefined();
    expect(await folderProblem(node, home)).toBeUndefined();
    // Outside home the walk goes on to `/`, and finds the open folder.
    const elsewhere = join(open, 'elsewhere');
    await mkdir(elsewhere, { mode: 0o700 });
    expect(await folderProblem(node, elsewhere)).toBe(`the folder ${open} can be written by other users (mode 777)`);
    // A folder whose name only starts like home's is not inside it.
    await mkdir(`${home}2`, { mode: 0o700 });
    expect(await folderProblem(node, `${home}2`)).toBe(`the folder ${open} can be written by other users (mode 777)`);
  });

  it('inside home, checks every folder below home, not just the first', async () => {
    const home = join(tmp, 'home');
    const cache = join(home, 'open', 'certificates');
    await mkdir(cache, { recursive: true, mode: 0o700 });
    await chmod(join(home, 'open'), 0o777);
    vi.spyOn(os, 'homedir').mockReturnValue(home);
    expect(await folderProblem(node, cache)).toBe(`the folder ${join(home, 'open')} can be written by other users (mode 777)`);
  });

  it('finds home by the path HOME gives and by its real path, when HOME goes through a link', async () => {
    const open = join(tmp, 'open');
    const home = join(open, 'home');
    await mkdir(join(home, 'certificates'), { recursive: true, mode: 0o700 });
    await chmod(open, 0o777);
    await symlink(home, join(open, 'home-link'));
    vi.spyOn(os, 'homedir').mockReturnValue(join(open, 'home-link'));
    expect(await folderProblem(node, join(home, 'certificates'))).toBeUndefined();
    expect(await folderProblem(node, join(open, 'home-link', 'certificates'))).toBeUndefined();
  });

  it('works when HOME names no folder (the walk then goes on to `/`)', async () => {
    vi.spyOn(os, 'homedir').mockReturnValue(join(tmp, 'missing'));
    await mkdir(join(tmp, 'cache'), { mode: 0o700 });
    expect(await folderProblem(node, join(tmp, 'cache'))).toBeUndefined();
  });

  it('are not checked where there is no uid (Windows: the ACL of the profile folder is what counts)', async () => {
    const open = join(tmp, 'open');
    await mkdir(open);
    await chmod(open, 0o777);
    expect(await folderProblem(node, open)).toMatch(/can be written by other users/);
    asPlatform('win32');
    expect(await folderProblem(node, open)).toBeUndefined();
  });
});

describe.skipIf(!posix)('the file', () => {
  it('is read whole at exactly the size limit, and refused one byte past it', async () => {
    const atLimit = new Uint8Array(MAX_CERTIFICATE_FILE_BYTES).fill(0x41);
    const file = await fileWith('big.pem', atLimit);
    const verdict = await readCertificateFile(node, file);
    expect(verdict.kind).toBe('found');
    expect(verdict.kind === 'found' && verdict.pem.length).toBe(MAX_CERTIFICATE_FILE_BYTES);
    expect(MAX_CERTIFICATE_FILE_BYTES).toBe(65536);
    const over = await fileWith('over.pem', new Uint8Array(MAX_CERTIFICATE_FILE_BYTES + 1).fill(0x41));
    expect(await readCertificateFile(node, over)).toEqual({ kind: 'unsafe', reason: 'it is larger than 65536 bytes', ours: true });
  });

  it('that grows past the limit after its size was read is refused, and its handle closed', async () => {
    const file = await fileWith('growing.pem', PLAIN);
    const handles: fsPromises.FileHandle[] = [];
    const growing: NodeFs = {
      ...node,
      fs: {
        ...fsPromises,
        open: async (...args: Parameters<typeof fsPromises.open>) => {
          const handle = await fsPromises.open(...args);
          handles.push(handle);
          // The size says a small file; the reads go on past the limit.
          let served = 0;
          return Object.assign(Object.create(handle) as fsPromises.FileHandle, {
            stat: () => handle.stat(),
            read: async (buffer: Uint8Array, offset: number, length: number) => {
              const bytesRead = Math.min(length, 4096);
              buffer.fill(0x41, offset, offset + bytesRead);
              served += bytesRead;
              return { bytesRead: served > 1 << 20 ? 0 : bytesRead, buffer };
            },
            close: () => handle.close(),
          });
        },
      } as typeof fsPromises,
    };
    expect(await readCertificateFile(growing, file)).toEqual({ kind: 'unsafe', reason: 'it is larger than 65536 bytes', ours: true });
    expect(handles).toHaveLength(1);
    // A closed handle has fd -1.
    expect(handles[0]!.fd).toBe(-1);
  });

  it('closes its handle after a good read', async () => {
    const file = await fileWith('good.pem', PLAIN);
    const handles: fsPromises.FileHandle[] = [];
    const counting: NodeFs = {
      ...node,
      fs: { ...fsPromises, open: async (...args: Parameters<typeof fsPromises.open>) => {
        const handle = await fsPromises.open(...args);
        handles.push(handle);
        return handle;
      } } as typeof fsPromises,
    };
    const verdict = await readCertificateFile(counting, file);
    expect(verdict).toEqual({ kind: 'found', pem: PLAIN, modifiedMs: expect.any(Number), mode: 0o644 });
    expect(handles[0]!.fd).toBe(-1);
  });

  it('that is a FIFO of ours is refused without blocking and may be replaced; a folder may not', async () => {
    const fifo = join(tmp, 'fifo.pem');
    execFileSync('mkfifo', [fifo]);
    expect(await readCertificateFile(node, fifo)).toEqual({ kind: 'unsafe', reason: 'it is not a regular file', ours: true });
    const folder = join(tmp, 'folder.pem');
    await mkdir(folder);
    expect(await readCertificateFile(node, folder)).toEqual({ kind: 'unsafe', reason: 'it is not a regular file', ours: false });
  });

  it.each([
    ['ENOENT', { kind: 'absent' }],
    ['ENOTDIR', { kind: 'absent' }],
    ['EACCES', { kind: 'unsafe', reason: 'it cannot be opened (EACCES: refused)', ours: false }],
  ])('that fails to open with %s gives %j', async (code, verdict) => {
    const failing: NodeFs = {
      ...node,
      fs: { ...fsPromises, open: () => Promise.reject(Object.assign(new Error(`${code}: refused`), { code })) } as typeof fsPromises,
    };
    expect(await readCertificateFile(failing, join(tmp, 'x.pem'))).toEqual(verdict);
  });

  it('that a system refuses to open as a link with EMLINK (FreeBSD) is a link, like ELOOP', async () => {
    const target = await fileWith('target.pem', PLAIN);
    const file = join(tmp, 'link.pem');
    await symlink(target, file);
    const freebsd: NodeFs = {
      ...node,
      fs: { ...fsPromises, open: () => Promise.reject(Object.assign(new Error('EMLINK: too many links'), { code: 'EMLINK' })) } as typeof fsPromises,
    };
    expect(await readCertificateFile(freebsd, file)).toEqual({ kind: 'unsafe', reason: 'it is a symbolic link', ours: true });
    // ELOOP for a path that is gone by the time of the lstat: not ours (nothing to replace).
    const gone: NodeFs = {
      ...node,
      fs: { ...fsPromises, open: () => Promise.reject(Object.assign(new Error('ELOOP'), { code: 'ELOOP' })) } as typeof fsPromises,
    };
    expect(await readCertificateFile(gone, join(tmp, 'gone.pem'))).toEqual({ kind: 'unsafe', reason: 'it is a symbolic link', ours: false });
  });
});

describe.skipIf(!posix)('on Windows', () => {
  it('refuses a link by lstat (ours: it may be replaced), reads a missing file as absent, and reads a file without owner or mode rules', async () => {
    asPlatform('win32');
    const target = await fileWith('target.pem', PLAIN, 0o666);
    const file = join(tmp, 'link.pem');
    await symlink(target, file);
    expect(await readCertificateFile(node, file)).toEqual({ kind: 'unsafe', reason: 'it is a link', ours: true });
    expect(await readCertificateFile(node, join(tmp, 'missing.pem'))).toEqual({ kind: 'absent' });
    if (isRoot) await chown(target, OTHER, OTHER);
    expect(await readCertificateFile(node, target)).toMatchObject({ kind: 'found', pem: PLAIN });
  });
});
