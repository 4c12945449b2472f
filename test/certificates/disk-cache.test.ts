/**
 * The disk cache on a real temporary folder: which file serves which origin, the SDKs' own files
 * used as they are, atomic writes with the modes docs/protocol.md gives, files and folders that
 * fail the read checks never used, an unwritable folder means memory only with one warning, and
 * a model name that could be a path never becomes one. (Other users, links and races:
 * disk-cache-local-attacker.test.ts.)
 */
import { chmod, lstat, mkdir, readFile, readdir, symlink, utimes, writeFile } from 'node:fs/promises';
import type * as Fs from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createDiskCache, isSafeModelName, originFolderName } from '../../src/certificates/disk-cache.js';
import { OFFICIAL_BASE_URL, readableFolderName } from '../../src/certificates/origin.js';
import { CertificateSource } from '../../src/certificates/source.js';
import {
  AICC, DAY_MS, PLAIN, PLAIN_2, fakeHttp, filesUnder, modeOf, okReply, removeDir, tempDir, unwritableDir,
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

const GATEWAY = 'https://gateway.example.com/api/v3';
const need = (model = 'ep-model', aicc = false, baseUrl = GATEWAY) => ({ model, aicc, baseUrl, authorization: 'Bearer k' });

/** A source over the disk cache in `cacheDir`, with a counting fake service answering `pem`. */
function sourceOver(pem: string, cacheDir = dir) {
  const fake = fakeHttp(okReply(pem));
  const store = createDiskCache(cacheDir, warn)!;
  return { source: new CertificateSource({ store, http: fake.http }), calls: fake.calls, store };
}

/** The file of `model` from `baseUrl`, as docs/protocol.md gives it. */
const fileOf = (model = 'ep-model', baseUrl = GATEWAY): string =>
  baseUrl === OFFICIAL_BASE_URL ? join(dir, `${model}.pem`) : join(dir, 'by-origin', originFolderName(baseUrl), `${model}.pem`);

/** Writes `text` where `model`'s certificate from `baseUrl` lives, with `mode`, in 0700 folders. */
async function place(text: string, mode = 0o644, baseUrl = GATEWAY, model = 'ep-model'): Promise<string> {
  const file = fileOf(model, baseUrl);
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, text);
  await chmod(file, mode);
  return file;
}

describe('which file serves which request', () => {
  it('the official default base URL uses the SDKs\' <model>.pem; every other origin a folder of its own', () => {
    const store = createDiskCache(dir, warn)!;
    expect(store.fileFor(OFFICIAL_BASE_URL, 'ep-1')).toBe(join(dir, 'ep-1.pem'));
    expect(store.fileFor('http://127.0.0.1:1234/api/v3', 'ep-1')).toBe(
      join(dir, 'by-origin', 'http_3a_2f_2f127.0.0.1_3a1234_2fapi_2fv3', 'ep-1.pem'),
    );
    expect(store.fileFor('https://ark.cn-shanghai.volces.com/api/v3', 'ep-1')).toBe(
      join(dir, 'by-origin', 'https_3a_2f_2fark.cn-shanghai.volces.com_2fapi_2fv3', 'ep-1.pem'),
    );
    // Another path on the official host is another origin, and letter case counts.
    expect(store.fileFor('https://ark.cn-beijing.volces.com/gw', 'ep-1')).toContain('by-origin');
    expect(originFolderName('https://gw.example.com/API')).toBe('https_3a_2f_2fgw.example.com_2f_41_50_49');
    const long = `https://gw.example.com/${'p'.repeat(200)}`;
    expect(originFolderName(long)).toMatch(/^sha256-[0-9a-f]{64}$/);
    expect(store.fileFor(OFFICIAL_BASE_URL, '../x')).toBeUndefined();
  });

  it('folder names are injective, even ignoring letter case, and never a path', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), fc.string({ unit: 'binary', maxLength: 60 }), (a, b) => {
        const [x, y] = [readableFolderName(`https://${a}`), readableFolderName(`https://${b}`)];
        for (const name of [x, y]) if (name !== undefined) expect(name).toMatch(/^https[a-z0-9._-]*$/);
        if (a !== b && x !== undefined && y !== undefined) expect(x.toLowerCase()).not.toBe(y.toLowerCase());
      }),
      { numRuns: 300 },
    );
  });

  it("gateway A's file is never used for server B, nor B's for the official service", async () => {
    const gatewayA = 'https://a.example.com/api/v3';
    const serverB = 'https://b.example.com:8443/api/v3';
    const first = sourceOver(PLAIN);
    expect((await first.source.get(need('ep-model', false, gatewayA))).pem).toBe(PLAIN);
    const second = sourceOver(PLAIN_2);
    expect((await second.source.get(need('ep-model', false, serverB))).pem).toBe(PLAIN_2);
    expect(second.calls).toHaveLength(1);
    expect(second.calls[0]!.url).toBe(`${serverB}/e2e/get/certificate`);
    const official = sourceOver(AICC);
    expect((await official.source.get(need('ep-model', true, OFFICIAL_BASE_URL))).pem).toBe(AICC);
    expect(official.calls).toHaveLength(1);
    expect(await readFile(fileOf('ep-model', gatewayA), 'utf8')).toBe(PLAIN);
    expect(await readFile(fileOf('ep-model', serverB), 'utf8')).toBe(PLAIN_2);
    expect(await readFile(fileOf('ep-model', OFFICIAL_BASE_URL), 'utf8')).toBe(AICC);
    // …and each is used again for its own origin only, without a fetch.
    const again = sourceOver(PLAIN_2);
    expect((await again.source.get(need('ep-model', false, gatewayA))).pem).toBe(PLAIN);
    expect(again.calls).toHaveLength(0);
  });
});

describe("the official SDKs' own files", () => {
  it('a <model>.pem written as the Python SDK leaves it (0644 in 0755 folders) is used without a fetch', async () => {
    await mkdir(dir, { recursive: true, mode: 0o755 });
    await chmod(dir, 0o755);
    await chmod(tmp, 0o755);
    const file = join(dir, 'ep-model.pem');
    await writeFile(file, PLAIN, { mode: 0o644 });
    await chmod(file, 0o644);
    const { source, calls } = sourceOver(PLAIN_2);
    expect((await source.get(need('ep-model', false, OFFICIAL_BASE_URL))).pem).toBe(PLAIN);
    expect(calls).toHaveLength(0);
    expect(warnings).toEqual([]);
    // Nothing was touched: the SDK's file and folder keep their modes.
    expect(await modeOf(file)).toBe(0o644);
    expect(await modeOf(dir)).toBe(0o755);
  });

  it('what this library writes there the SDKs read back: <model>.pem, 0644, the PEM alone', async () => {
    const { source } = sourceOver(PLAIN);
    await source.get(need('ep-model', false, OFFICIAL_BASE_URL));
    expect(await readdir(dir)).toEqual(['ep-model.pem']);
    expect(await readFile(join(dir, 'ep-model.pem'), 'utf8')).toBe(PLAIN);
    expect(await modeOf(join(dir, 'ep-model.pem'))).toBe(0o644);
  });
});

describe('writing', () => {
  it('creates new folders 0700 and new files 0644 (a certificate is public), holding the PEM', async () => {
    const store = createDiskCache(join(dir, 'nested'), warn)!;
    await store.write(OFFICIAL_BASE_URL, 'ep-model', PLAIN);
    expect(await modeOf(join(dir, 'nested'))).toBe(0o700);
    expect(await modeOf(join(dir, 'nested', 'ep-model.pem'))).toBe(0o644);
    expect(await readFile(join(dir, 'nested', 'ep-model.pem'), 'utf8')).toBe(PLAIN);
    expect(await store.read(OFFICIAL_BASE_URL, 'ep-model')).toMatchObject({ pem: PLAIN });
    await store.write(GATEWAY, 'ep-model', PLAIN_2);
    expect(await modeOf(join(dir, 'nested', 'by-origin'))).toBe(0o700);
    expect(await modeOf(dirname(store.fileFor(GATEWAY, 'ep-model')!))).toBe(0o700);
    expect(warnings).toEqual([]);
  });

  it('leaves the mode of an existing folder as it is', async () => {
    await mkdir(dir, { mode: 0o755 });
    await chmod(dir, 0o755);
    await createDiskCache(dir, warn)!.write(OFFICIAL_BASE_URL, 'ep-model', PLAIN);
    expect(await modeOf(dir)).toBe(0o755);
  });

  it.each([
    ['600', '600'],
    ['644', '644'],
    ['640', '640'],
    ['664', '644'],
    ['666', '644'],
    ['400', '600'],
  ])('replacing a file of mode %s gives mode %s (readable bits kept, never group/other-writable)', async (before, after) => {
    const file = await place(PLAIN_2, parseInt(before, 8));
    await createDiskCache(dir, warn)!.write(GATEWAY, 'ep-model', PLAIN);
    expect(await readFile(file, 'utf8')).toBe(PLAIN);
    expect((await modeOf(file)).toString(8)).toBe(after);
  });

  it('writes a temporary file exclusively, then renames it into place', async () => {
    const fs = process.getBuiltinModule('node:fs/promises') as typeof Fs;
    const writeSpy = vi.spyOn(fs, 'writeFile');
    const renameSpy = vi.spyOn(fs, 'rename');
    await createDiskCache(dir, warn)!.write(OFFICIAL_BASE_URL, 'ep-model', PLAIN);
    expect(writeSpy).toHaveBeenCalledTimes(1);
    const [temporary, text, options] = writeSpy.mock.calls[0]!;
    expect(String(temporary).startsWith(join(dir, 'ep-model.pem.'))).toBe(true);
    expect(text).toBe(PLAIN);
    expect(options).toEqual({ mode: 0o600, flag: 'wx' });
    expect(renameSpy.mock.calls).toEqual([[temporary, join(dir, 'ep-model.pem')]]);
    expect(await readdir(dir)).toEqual(['ep-model.pem']);
  });

  it('a failed rename leaves the old file whole, no temporary file, and one warning', async () => {
    const file = await place(PLAIN_2, 0o644, OFFICIAL_BASE_URL);
    const fs = process.getBuiltinModule('node:fs/promises') as typeof Fs;
    vi.spyOn(fs, 'rename').mockRejectedValueOnce(new Error('disk full'));
    const store = createDiskCache(dir, warn)!;
    await store.write(OFFICIAL_BASE_URL, 'ep-model', PLAIN);
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
    const file = await place(PLAIN);
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

  it('a corrupt file is fetched again and replaced', async () => {
    const file = await place('not a certificate', 0o600);
    const { source, calls } = sourceOver(PLAIN);
    expect((await source.get(need())).pem).toBe(PLAIN);
    expect(calls).toHaveLength(1);
    expect(await readFile(file, 'utf8')).toBe(PLAIN);
    expect(await modeOf(file)).toBe(0o600);
  });

  it.each(['644', '640', '604', '600', '444'])('a file of ours with mode %s (nobody else can write it) is used', async (mode) => {
    await place(PLAIN_2, parseInt(mode, 8));
    const { source, calls } = sourceOver(PLAIN);
    expect((await source.get(need())).pem).toBe(PLAIN_2);
    expect(calls).toHaveLength(0);
    expect(warnings).toEqual([]);
  });

  it.each(['664', '660', '646', '666', '620'])('a file of ours with mode %s is not used: one warning naming it, fetched, replaced', async (mode) => {
    const file = await place(PLAIN_2, parseInt(mode, 8));
    const { source, calls, store } = sourceOver(PLAIN);
    expect(await store.read(GATEWAY, 'ep-model')).toBeUndefined();
    expect((await source.get(need())).pem).toBe(PLAIN);
    expect(calls).toHaveLength(1);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(file);
    expect(warnings[0]).toMatch(/other users can write it/);
    expect(await readFile(file, 'utf8')).toBe(PLAIN);
    // Its readable bits kept, its write bits for group and others gone.
    expect(await modeOf(file)).toBe((parseInt(mode, 8) & 0o644) | 0o600);
  });

  it('a cached certificate of the other mode is fetched again and replaced', async () => {
    const file = await place(PLAIN);
    const aicc = sourceOver(AICC);
    expect((await aicc.source.get(need('ep-model', true))).isAICC).toBe(true);
    expect(aicc.calls).toHaveLength(1);
    expect(await readFile(file, 'utf8')).toBe(AICC);

    const plain = sourceOver(PLAIN_2);
    expect((await plain.source.get(need())).pem).toBe(PLAIN_2);
    expect(plain.calls).toHaveLength(1);
    expect(await readFile(file, 'utf8')).toBe(PLAIN_2);
  });

  it('a FIFO in place of the file neither blocks nor is used', async () => {
    const file = fileOf();
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    execFileSync('mkfifo', ['-m', '600', file]);
    const { source, calls } = sourceOver(PLAIN);
    expect((await source.get(need())).pem).toBe(PLAIN);
    expect(calls).toHaveLength(1);
    expect(warnings.join('\n')).toMatch(/not a regular file/);
  });

  it('a file over 64 KiB (a certificate and junk) is not used', async () => {
    await place(PLAIN_2 + 'x'.repeat(70_000));
    const { source, calls } = sourceOver(PLAIN);
    expect((await source.get(need())).pem).toBe(PLAIN);
    expect(calls).toHaveLength(1);
    expect(warnings.join('\n')).toMatch(/larger than 65536 bytes/);
  });
});

describe('folders others can write', () => {
  it('a cache folder writable by others (0777, not sticky): not used, not written, one warning, memory only', async () => {
    const file = await place(PLAIN_2);
    await chmod(dirname(file), 0o777);
    const { source, calls } = sourceOver(PLAIN);
    expect((await source.get(need())).pem).toBe(PLAIN);
    expect((await source.get(need())).pem).toBe(PLAIN);
    expect(calls).toHaveLength(1);
    expect(await readFile(file, 'utf8')).toBe(PLAIN_2);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(file);
    expect(warnings[0]).toMatch(/can be written by other users.*memory only/s);
  });

  it('a parent folder writable by group: the same', async () => {
    const file = await place(PLAIN_2);
    await chmod(dir, 0o770);
    const { source, calls } = sourceOver(PLAIN);
    expect((await source.get(need())).pem).toBe(PLAIN);
    expect(calls).toHaveLength(1);
    expect(await readFile(file, 'utf8')).toBe(PLAIN_2);
    expect(warnings[0]).toContain(dir);
  });

  it('a new cache under a folder others can write: nothing written there, memory only, one warning', async () => {
    const shared = join(tmp, 'shared');
    await mkdir(shared, { mode: 0o777 });
    await chmod(shared, 0o777);
    const { source, calls } = sourceOver(PLAIN, join(shared, 'certs'));
    for (const model of ['a', 'b', 'a']) expect((await source.get(need(model))).pem).toBe(PLAIN);
    expect(calls).toHaveLength(2);
    expect(await filesUnder(join(shared, 'certs'))).not.toContainEqual(expect.stringMatching(/\.pem$/));
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/not caching the certificate in .*a\.pem: the folder .*shared can be written by other users/);
  });

  it('a sticky folder (like /tmp) above the cache: our file in it is used', async () => {
    const file = await place(PLAIN_2);
    await chmod(dir, 0o1777);
    const { source, calls } = sourceOver(PLAIN);
    expect((await source.get(need())).pem).toBe(PLAIN_2);
    expect(calls).toHaveLength(0);
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

  it('reading and writing unsafe names touch nothing, inside the folder or out', async () => {
    await mkdir(dir, { mode: 0o700 });
    await writeFile(join(tmp, 'x.pem'), PLAIN, { mode: 0o600 });
    const store = createDiskCache(dir, warn)!;
    for (const model of unsafe) {
      for (const baseUrl of [OFFICIAL_BASE_URL, GATEWAY]) {
        await store.write(baseUrl, model, PLAIN);
        expect(await store.read(baseUrl, model)).toBeUndefined();
      }
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

describe('links', () => {
  it('a symbolic link in place of the file is not followed; it is replaced by a file', async () => {
    const target = join(tmp, 'elsewhere.pem');
    await writeFile(target, PLAIN_2, { mode: 0o600 });
    const file = fileOf();
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    await symlink(target, file);
    const { source, calls } = sourceOver(PLAIN);
    expect((await source.get(need())).pem).toBe(PLAIN);
    expect(calls).toHaveLength(1);
    expect(await readFile(target, 'utf8')).toBe(PLAIN_2);
    expect((await lstat(file)).isFile()).toBe(true);
    // Ours to replace: the warning says it is fetched again to replace it (not kept in memory only).
    expect(warnings).toContain(`not using the cached certificate ${file}: it is a symbolic link. Fetching it again to replace it.`);
  });

  it('a cache folder reached through a link of ours (e.g. ~/.ark -> elsewhere) works as the folder itself', async () => {
    const real = join(tmp, 'real');
    await mkdir(real, { mode: 0o700 });
    await symlink(real, dir);
    const { source } = sourceOver(PLAIN);
    await source.get(need('ep-model', false, OFFICIAL_BASE_URL));
    expect(await readdir(real)).toEqual(['ep-model.pem']);
    const again = sourceOver(PLAIN_2);
    expect((await again.source.get(need('ep-model', false, OFFICIAL_BASE_URL))).pem).toBe(PLAIN);
    expect(again.calls).toHaveLength(0);
  });
});
