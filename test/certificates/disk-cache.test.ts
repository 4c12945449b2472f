/**
 * The disk cache on a real temporary folder: atomic 0600 files in a 0700 folder, corrupt,
 * stale, wrong-mode and wrong-kind files deleted and fetched again, an unwritable folder means
 * memory only with one warning, and a model name that could be a path never becomes one.
 */
import { chmod, lstat, mkdir, readFile, readdir, symlink, utimes, writeFile } from 'node:fs/promises';
import type * as Fs from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createDiskCache, isSafeModelName } from '../../src/certificates/disk-cache.js';
import { CertificateSource } from '../../src/certificates/source.js';
import {
  AICC, DAY_MS, PLAIN, PLAIN_2, fakeHttp, modeOf, okReply, removeDir, tempDir, unwritableDir,
} from './helpers.js';

let tmp: string;
let dir: string;
let warnings: string[];
const warn = (message: string): void => void warnings.push(message);

beforeEach(async () => {
  tmp = await tempDir();
  dir = join(tmp, 'certificates');
  warnings = [];
});
afterEach(async () => {
  vi.restoreAllMocks();
  await removeDir(tmp);
});

const need = (model = 'ep-model', aicc = false) => ({ model, aicc, baseUrl: 'https://h/api/v3', authorization: 'Bearer k' });

/** A source over the disk cache in `dir`, with a counting fake service answering `pem`. */
function sourceOver(pem: string, cacheDir = dir) {
  const fake = fakeHttp(okReply(pem));
  const store = createDiskCache(cacheDir, warn)!;
  return { source: new CertificateSource({ store, http: fake.http }), calls: fake.calls };
}

async function place(model: string, text: string, mode = 0o600): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${model}.pem`);
  await writeFile(file, text);
  await chmod(file, mode);
  return file;
}

describe('writing', () => {
  it('creates the folder 0700 and the file 0600, holding the PEM', async () => {
    const store = createDiskCache(join(dir, 'nested'), warn)!;
    await store.write('ep-model', PLAIN);
    expect(await modeOf(join(dir, 'nested'))).toBe(0o700);
    expect(await modeOf(join(dir, 'nested', 'ep-model.pem'))).toBe(0o600);
    expect(await readFile(join(dir, 'nested', 'ep-model.pem'), 'utf8')).toBe(PLAIN);
    expect(await store.read('ep-model')).toMatchObject({ pem: PLAIN });
    expect(warnings).toEqual([]);
  });

  it('narrows an existing folder that others can read to 0700', async () => {
    await mkdir(dir, { mode: 0o755 });
    await chmod(dir, 0o755);
    await createDiskCache(dir, warn)!.write('ep-model', PLAIN);
    expect(await modeOf(dir)).toBe(0o700);
  });

  it('writes a temporary file exclusively, then renames it into place', async () => {
    const fs = process.getBuiltinModule('node:fs/promises') as typeof Fs;
    const writeSpy = vi.spyOn(fs, 'writeFile');
    const renameSpy = vi.spyOn(fs, 'rename');
    await createDiskCache(dir, warn)!.write('ep-model', PLAIN);
    expect(writeSpy).toHaveBeenCalledTimes(1);
    const [temporary, text, options] = writeSpy.mock.calls[0]!;
    expect(String(temporary).startsWith(join(dir, 'ep-model.pem.'))).toBe(true);
    expect(text).toBe(PLAIN);
    expect(options).toEqual({ mode: 0o600, flag: 'wx' });
    expect(renameSpy.mock.calls).toEqual([[temporary, join(dir, 'ep-model.pem')]]);
    expect(await readdir(dir)).toEqual(['ep-model.pem']);
  });

  it('a failed rename leaves the old file whole, no temporary file, and one warning', async () => {
    const file = await place('ep-model', PLAIN_2);
    const fs = process.getBuiltinModule('node:fs/promises') as typeof Fs;
    vi.spyOn(fs, 'rename').mockRejectedValueOnce(new Error('disk full'));
    const store = createDiskCache(dir, warn)!;
    await store.write('ep-model', PLAIN);
    expect(await readFile(file, 'utf8')).toBe(PLAIN_2);
    expect(await readdir(dir)).toEqual(['ep-model.pem']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('disk full');
  });
});

describe('reading through CertificateSource', () => {
  it('a second source over the same folder reads the disk and fetches nothing', async () => {
    const first = sourceOver(PLAIN);
    await first.source.get(need());
    const second = sourceOver(PLAIN_2);
    expect((await second.source.get(need())).pem).toBe(PLAIN);
    expect(second.calls).toHaveLength(0);
  });

  it('a file 13 days old is used; one older than 14 days is fetched again and rewritten', async () => {
    const file = await place('ep-model', PLAIN);
    const thirteenDays = new Date(Date.now() - 13 * DAY_MS);
    await utimes(file, thirteenDays, thirteenDays);
    const young = sourceOver(PLAIN_2);
    expect((await young.source.get(need())).pem).toBe(PLAIN);
    expect(young.calls).toHaveLength(0);

    const fifteenDays = new Date(Date.now() - 15 * DAY_MS);
    await utimes(file, fifteenDays, fifteenDays);
    const old = sourceOver(PLAIN_2);
    expect((await old.source.get(need())).pem).toBe(PLAIN_2);
    expect(old.calls).toHaveLength(1);
    expect(await readFile(file, 'utf8')).toBe(PLAIN_2);
    expect(Date.now() - (await lstat(file)).mtimeMs).toBeLessThan(DAY_MS);
  });

  it('a corrupt file is deleted, fetched again and replaced', async () => {
    const file = await place('ep-model', 'not a certificate');
    const { source, calls } = sourceOver(PLAIN);
    expect((await source.get(need())).pem).toBe(PLAIN);
    expect(calls).toHaveLength(1);
    expect(await readFile(file, 'utf8')).toBe(PLAIN);
    expect(await modeOf(file)).toBe(0o600);
  });

  it.each([0o644, 0o640, 0o604, 0o660])('a file with mode %o is deleted unread and fetched again', async (mode) => {
    const file = await place('ep-model', PLAIN_2, mode);
    const store = createDiskCache(dir, warn)!;
    expect(await store.read('ep-model')).toBeUndefined();
    await expect(lstat(file)).rejects.toHaveProperty('code', 'ENOENT');

    await place('ep-model', PLAIN_2, mode);
    const { source, calls } = sourceOver(PLAIN);
    expect((await source.get(need())).pem).toBe(PLAIN);
    expect(calls).toHaveLength(1);
    expect(await modeOf(file)).toBe(0o600);
  });

  it('a symbolic link in place of the file is deleted, not followed', async () => {
    const target = join(tmp, 'elsewhere.pem');
    await writeFile(target, PLAIN_2, { mode: 0o600 });
    await mkdir(dir, { mode: 0o700 });
    await symlink(target, join(dir, 'ep-model.pem'));
    const { source, calls } = sourceOver(PLAIN);
    expect((await source.get(need())).pem).toBe(PLAIN);
    expect(calls).toHaveLength(1);
    expect(await readFile(target, 'utf8')).toBe(PLAIN_2);
    expect((await lstat(join(dir, 'ep-model.pem'))).isFile()).toBe(true);
  });

  it('a cached certificate of the other mode is deleted and fetched again', async () => {
    const file = await place('ep-model', PLAIN);
    const aicc = sourceOver(AICC);
    expect((await aicc.source.get(need('ep-model', true))).isAICC).toBe(true);
    expect(aicc.calls).toHaveLength(1);
    expect(await readFile(file, 'utf8')).toBe(AICC);

    const plain = sourceOver(PLAIN_2);
    expect((await plain.source.get(need())).pem).toBe(PLAIN_2);
    expect(plain.calls).toHaveLength(1);
    expect(await readFile(file, 'utf8')).toBe(PLAIN_2);
  });
});

describe('an unwritable folder: memory only, one warning', () => {
  it('certificates still come, and are held in memory', async () => {
    const blocked = await unwritableDir(tmp);
    const { source, calls } = sourceOver(PLAIN, blocked);
    expect((await source.get(need('m-1'))).pem).toBe(PLAIN);
    expect((await source.get(need('m-1'))).pem).toBe(PLAIN);
    expect(calls).toHaveLength(1);
    expect((await source.get(need('m-2'))).pem).toBe(PLAIN);
    expect(calls).toHaveLength(2);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/memory only/);
  });

  it('many models written at once still give exactly one warning', async () => {
    const blocked = await unwritableDir(tmp);
    const { source, calls } = sourceOver(PLAIN, blocked);
    await Promise.all(Array.from({ length: 8 }, (_unused, i) => source.get(need(`model-${i}`))));
    expect(calls).toHaveLength(8);
    expect(warnings).toHaveLength(1);
  });
});

describe('a model name never becomes a path', () => {
  const unsafe = ['a/b', '..\\x', 'c:d', '..', '.', '../escape', 'x/../../y', 'nul\0byte', '', 'z'.repeat(201)];

  it.each(unsafe)('%j is not a safe file name', (model) => {
    expect(isSafeModelName(model)).toBe(false);
  });

  it.each(['ep-20240601-abcd', 'doubao-1.5-pro-32k', '.hidden', 'a.b'])('%j is', (model) => {
    expect(isSafeModelName(model)).toBe(true);
  });

  it('reading, writing and removing unsafe names touch nothing, inside the folder or out', async () => {
    await mkdir(dir, { mode: 0o700 });
    await writeFile(join(tmp, 'x.pem'), PLAIN, { mode: 0o600 });
    const store = createDiskCache(dir, warn)!;
    for (const model of unsafe) {
      await store.write(model, PLAIN);
      expect(await store.read(model)).toBeUndefined();
      await store.remove(model);
    }
    expect(await readdir(dir)).toEqual([]);
    expect((await readdir(tmp)).sort()).toEqual(['certificates', 'x.pem']);
    expect(warnings).toEqual([]);
  });

  it('the source still serves such models, from the service and then memory', async () => {
    const { source, calls } = sourceOver(PLAIN);
    for (const model of ['a/b', '..\\x', 'c:d', '..']) {
      expect((await source.get(need(model))).pem).toBe(PLAIN);
      expect((await source.get(need(model))).pem).toBe(PLAIN);
    }
    expect(calls).toHaveLength(4);
    expect(await readdir(tmp)).toEqual([]);
  });
});
