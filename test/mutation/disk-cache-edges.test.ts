/**
 * Checks of src/certificates/disk-cache.ts that a mutation run found untested (docs/security.md,
 * "Mutation testing"): the real folder behind a linked cache folder is checked as well as the
 * path through the link, on read and on write; an entry refused as not ours blocks the write
 * (so one odd path cannot switch the cache off for every model); a read that fails with an
 * error other than "absent" is refused, not used; the model-name length bound; the default
 * folder, which is the official SDKs' (protocol §1).
 */
import fsPromises from 'node:fs/promises';
import { chmod, mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createDiskCache, defaultCacheDir, isSafeModelName, originFolderName } from '../../src/certificates/disk-cache.js';
import { PLAIN, removeDir, tempDir } from '../certificates/helpers.js';

const GATEWAY = 'https://gateway.example.com/api/v3';
const posix = process.platform !== 'win32';

let tmp: string;
let dir: string;
let warnings: string[];

beforeEach(async () => {
  tmp = await tempDir();
  dir = join(tmp, 'certificates');
  await mkdir(join(dir, 'by-origin'), { recursive: true, mode: 0o700 });
  warnings = [];
});
afterEach(async () => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
  await removeDir(tmp);
});

const store = () => createDiskCache(dir, (message) => warnings.push(message))!;

/** The gateway's origin folder as a link (ours, in a safe folder) to a folder others can write. */
async function linkToOpenFolder(): Promise<string> {
  const open = join(tmp, 'open');
  await mkdir(open);
  await chmod(open, 0o777);
  await symlink(open, join(dir, 'by-origin', originFolderName(GATEWAY)));
  return open;
}

describe.skipIf(!posix)('a cache folder that is a link', () => {
  it('is refused on read when the folder it leads to can be written by other users, though the path through the link is safe', async () => {
    const open = await linkToOpenFolder();
    await writeFile(join(open, 'ep-model.pem'), PLAIN, { mode: 0o644 });
    expect(await store().read(GATEWAY, 'ep-model')).toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`the folder ${open} can be written by other users (mode 777)`);
    expect(warnings[0]).toContain('remove the file or fix its folder');
  });

  it('is not written into when the folder it leads to can be written by other users', async () => {
    const open = await linkToOpenFolder();
    const cache = store();
    await cache.write(GATEWAY, 'ep-model', PLAIN);
    expect(await readdir(open)).toEqual([]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`the folder ${open} can be written by other users (mode 777)`);
    expect(warnings[0]).toContain('Keeping it in memory only; fix the folder.');
  });
});

describe.skipIf(!posix)('an entry refused as not ours', () => {
  it('is not written over, and the cache stays on for the other models', async () => {
    const cache = store();
    // A folder where a model's file belongs: refused on read as not a regular file.
    const odd = cache.fileFor(GATEWAY, 'ep-odd')!;
    await mkdir(odd, { recursive: true });
    expect(await cache.read(GATEWAY, 'ep-odd')).toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`not using the cached certificate ${odd}: it is not a regular file`);
    await cache.write(GATEWAY, 'ep-odd', PLAIN);
    expect(await readdir(odd)).toEqual([]);
    // Had the write been tried, its failure would have turned the whole cache off.
    await cache.write(GATEWAY, 'ep-model', PLAIN);
    expect(await readFile(cache.fileFor(GATEWAY, 'ep-model')!, 'utf8')).toBe(PLAIN);
    expect(warnings).toHaveLength(1);
  });
});

describe('a read that fails', () => {
  it('with an error other than "absent" is refused with the error, and the file is left alone', async () => {
    const cache = store();
    const file = cache.fileFor(GATEWAY, 'ep-model')!;
    await mkdir(join(file, '..'), { recursive: true });
    await writeFile(file, PLAIN, { mode: 0o644 });
    const denied = Object.assign(new Error('EACCES: permission denied, lstat'), { code: 'EACCES' });
    vi.spyOn(fsPromises, 'lstat').mockRejectedValue(denied);
    expect(await cache.read(GATEWAY, 'ep-model')).toBeUndefined();
    expect(warnings).toEqual([
      `not using the cached certificate ${file}: EACCES: permission denied, lstat. ` +
        'Fetching it again and keeping it in memory only; remove the file or fix its folder.',
    ]);
    vi.restoreAllMocks();
    await cache.write(GATEWAY, 'ep-model', 'another certificate');
    expect(await readFile(file, 'utf8')).toBe(PLAIN);
  });

  it('because a folder went away meanwhile is "not cached", with no warning', async () => {
    const cache = store();
    await mkdir(join(cache.fileFor(GATEWAY, 'ep-model')!, '..'), { recursive: true });
    const gone = Object.assign(new Error('ENOENT: no such file or directory, lstat'), { code: 'ENOENT' });
    vi.spyOn(fsPromises, 'lstat').mockRejectedValue(gone);
    expect(await cache.read(GATEWAY, 'ep-model')).toBeUndefined();
    expect(warnings).toEqual([]);
    vi.restoreAllMocks();
    await cache.write(GATEWAY, 'ep-model', PLAIN);
    expect(await readFile(cache.fileFor(GATEWAY, 'ep-model')!, 'utf8')).toBe(PLAIN);
  });
});

describe('names and places', () => {
  it('takes model names of up to 200 characters as file names, and no longer ones', () => {
    expect(isSafeModelName('m'.repeat(200))).toBe(true);
    expect(isSafeModelName('m'.repeat(201))).toBe(false);
    expect(store().fileFor(GATEWAY, 'm'.repeat(201))).toBeUndefined();
  });

  it("keeps certificates in ~/.ark/certificates, the official SDKs' folder", () => {
    vi.spyOn(os, 'homedir').mockReturnValue('/home/someone');
    if (posix) expect(defaultCacheDir()).toBe('/home/someone/.ark/certificates');
    else expect(defaultCacheDir()).toMatch(/[\\/]\.ark[\\/]certificates$/);
  });
});
