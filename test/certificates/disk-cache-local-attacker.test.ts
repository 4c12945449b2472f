/**
 * The disk cache against another local user (docs/security.md, "The certificate cache and other
 * local users"): a file or folder another user owns, a link or a hard link planted in the
 * cache's path, and a file swapped with a symbolic link while fresh clients read it. The cases
 * with a second user run as root and `chown` to an unused uid (or run a child process as it, on
 * the built library); elsewhere they are skipped.
 */
import { spawn } from 'node:child_process';
import { chmod, chown, link, lstat, mkdir, readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDiskCache, originFolderName } from '../../src/certificates/disk-cache.js';
import { OFFICIAL_BASE_URL } from '../../src/certificates/origin.js';
import { CertificateSource } from '../../src/certificates/source.js';
import { makeCertificate } from '../helpers/make-certificate.js';
import { PLAIN, PLAIN_2, fakeHttp, okReply, removeDir, tempDir } from './helpers.js';

/** A uid no account on a test machine has. */
const OTHER_UID = 12345;
const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('disk-cache-local-attacker: not root, so the cases with a second user (chown) are skipped');
const asRoot = it.skipIf(!isRoot);

/** The attacker's certificate: what must never be used. */
const ATTACKER = makeCertificate({ commonName: 'attacker' }).pem;
const GATEWAY = 'https://gateway.example.com/api/v3';

let tmp: string;
let dir: string;
let warnings: string[];

beforeEach(async () => {
  tmp = await tempDir();
  dir = join(tmp, 'certificates');
  await mkdir(dir, { mode: 0o700 });
  warnings = [];
});
afterEach(() => removeDir(tmp));

const need = (baseUrl = OFFICIAL_BASE_URL) => ({ model: 'ep-model', aicc: false, baseUrl, authorization: 'Bearer k' });

function sourceOver(pem: string) {
  const fake = fakeHttp(okReply(pem));
  const store = createDiskCache(dir, (message) => warnings.push(message))!;
  return { source: new CertificateSource({ store, http: fake.http }), calls: fake.calls };
}

describe('files and folders of another user', () => {
  asRoot("another user's file in the SDK place is not used, not deleted, not replaced; memory only, one warning", async () => {
    const file = join(dir, 'ep-model.pem');
    await writeFile(file, ATTACKER, { mode: 0o644 });
    await chown(file, OTHER_UID, OTHER_UID);
    for (let round = 0; round < 2; round++) {
      const { source, calls } = sourceOver(PLAIN);
      expect((await source.get(need())).pem).toBe(PLAIN);
      expect((await source.get(need())).pem).toBe(PLAIN);
      expect(calls).toHaveLength(1);
    }
    expect(await readFile(file, 'utf8')).toBe(ATTACKER);
    expect((await stat(file)).uid).toBe(OTHER_UID);
    expect(await readdir(dir)).toEqual(['ep-model.pem']);
    // One warning per client (two clients), each naming the file.
    expect(warnings).toHaveLength(2);
    for (const warning of warnings) expect(warning).toMatch(new RegExp(`${file}.*another user \\(uid ${OTHER_UID}\\).*memory only`, 's'));
  });

  asRoot("a file of another user that appears after the read (no read refused it) is not replaced by the write", async () => {
    // The write path's own owner check: the read found no file, then another user planted one.
    const store = createDiskCache(dir, (message) => warnings.push(message))!;
    expect(await store.read(OFFICIAL_BASE_URL, 'ep-model')).toBeUndefined();
    const file = store.fileFor(OFFICIAL_BASE_URL, 'ep-model')!;
    await writeFile(file, ATTACKER, { mode: 0o644 });
    await chown(file, OTHER_UID, OTHER_UID);
    await store.write(OFFICIAL_BASE_URL, 'ep-model', PLAIN);
    await store.write(OFFICIAL_BASE_URL, 'ep-model', PLAIN);
    expect(await readFile(file, 'utf8')).toBe(ATTACKER);
    expect((await stat(file)).uid).toBe(OTHER_UID);
    expect(await readdir(dir)).toEqual(['ep-model.pem']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(new RegExp(`${file}.*belongs to another user \\(uid ${OTHER_UID}\\).*memory only`, 's'));
  });

  asRoot("another user's private (0600) file is refused the same way", async () => {
    const file = join(dir, 'ep-model.pem');
    await writeFile(file, ATTACKER, { mode: 0o600 });
    await chown(file, OTHER_UID, OTHER_UID);
    const { source, calls } = sourceOver(PLAIN);
    expect((await source.get(need())).pem).toBe(PLAIN);
    expect(calls).toHaveLength(1);
    expect(await readFile(file, 'utf8')).toBe(ATTACKER);
  });

  asRoot("a cache folder another user owns: nothing in it is used or written", async () => {
    const file = join(dir, 'ep-model.pem');
    await writeFile(file, ATTACKER, { mode: 0o644 });
    await chown(dir, OTHER_UID, OTHER_UID);
    const { source, calls } = sourceOver(PLAIN);
    expect((await source.get(need())).pem).toBe(PLAIN);
    expect(calls).toHaveLength(1);
    expect(await readFile(file, 'utf8')).toBe(ATTACKER);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`${dir} belongs to another user`);
  });

  asRoot("a sticky shared folder (/tmp-like) as the cache: another user's file in it is refused, ours would be used", async () => {
    await chmod(dir, 0o1777);
    const file = join(dir, 'ep-model.pem');
    await writeFile(file, ATTACKER, { mode: 0o644 });
    await chown(file, OTHER_UID, OTHER_UID);
    const { source, calls } = sourceOver(PLAIN);
    expect((await source.get(need())).pem).toBe(PLAIN);
    expect(calls).toHaveLength(1);
    expect(await readFile(file, 'utf8')).toBe(ATTACKER);

    await writeFile(join(dir, 'ep-2.pem'), PLAIN_2, { mode: 0o644 });
    const ours = sourceOver(PLAIN);
    expect((await ours.source.get({ ...need(), model: 'ep-2' })).pem).toBe(PLAIN_2);
    expect(ours.calls).toHaveLength(0);
  });

  asRoot("a link in the cache's path to another user's folder is refused", async () => {
    const theirs = join(tmp, 'theirs');
    await mkdir(theirs, { mode: 0o755 });
    await writeFile(join(theirs, 'ep-model.pem'), ATTACKER, { mode: 0o644 });
    await chown(join(theirs, 'ep-model.pem'), OTHER_UID, OTHER_UID);
    await chown(theirs, OTHER_UID, OTHER_UID);
    await removeDir(dir);
    await symlink(theirs, dir);
    const { source, calls } = sourceOver(PLAIN);
    expect((await source.get(need())).pem).toBe(PLAIN);
    expect(calls).toHaveLength(1);
    expect(await readFile(join(theirs, 'ep-model.pem'), 'utf8')).toBe(ATTACKER);
  });
});

describe('links planted in the cache', () => {
  it("a hard link to another origin's file (ours, so owner and mode pass) is not used", async () => {
    const gatewayFile = join(dir, 'by-origin', originFolderName(GATEWAY), 'ep-model.pem');
    await mkdir(dirname(gatewayFile), { recursive: true, mode: 0o700 });
    await writeFile(gatewayFile, PLAIN_2, { mode: 0o644 });
    await link(gatewayFile, join(dir, 'ep-model.pem'));
    const { source, calls } = sourceOver(PLAIN);
    expect((await source.get(need())).pem).toBe(PLAIN);
    expect(calls).toHaveLength(1);
    expect(warnings.join('\n')).toMatch(/2 hard links/);
    // Replaced by a file of its own; the gateway's file is untouched.
    expect((await lstat(join(dir, 'ep-model.pem'))).nlink).toBe(1);
    expect(await readFile(gatewayFile, 'utf8')).toBe(PLAIN_2);
  });

  asRoot('a file flipped between a good file and a link to the attacker\'s file never yields the attacker\'s key (400 fresh clients or more)', async () => {
    const file = join(dir, 'ep-model.pem');
    const target = join(tmp, 'attacker.pem');
    await writeFile(target, ATTACKER, { mode: 0o644 });
    await chown(target, OTHER_UID, OTHER_UID);
    await writeFile(file, PLAIN_2, { mode: 0o644 });
    // Another process swaps the two back and forth, each swap one atomic rename.
    const flipper = spawn(process.execPath, ['-e', `
      const fs = require('node:fs');
      const [file, target, pem] = process.argv.slice(1);
      let i = 0;
      process.stdout.write('ready\\n');
      for (const end = Date.now() + 60000; Date.now() < end; i++) {
        const temp = file + '.flip' + (i % 2);
        fs.rmSync(temp, { force: true });
        if (i % 2) fs.symlinkSync(target, temp); else fs.writeFileSync(temp, pem, { mode: 0o644 });
        fs.renameSync(temp, file);
      }
    `, file, target, PLAIN_2], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise((resolve) => flipper.stdout.once('data', resolve));
      const seen = { cached: 0, fetched: 0, attacker: 0 };
      // 400 clients at least, and more (up to 4 000) until both sides of the flip have been met.
      for (let batch = 0; batch < 200 && (batch < 20 || seen.cached === 0 || seen.fetched === 0); batch++) {
        const pems = await Promise.all(Array.from({ length: 20 }, async () => (await sourceOver(PLAIN).source.get(need())).pem));
        for (const pem of pems) {
          if (pem === PLAIN_2) seen.cached++;
          else if (pem === PLAIN) seen.fetched++;
          else seen.attacker++;
        }
      }
      expect(seen.attacker).toBe(0);
      expect(seen.cached + seen.fetched).toBeGreaterThanOrEqual(400);
      // Both sides of the flip were met: the race was run, not missed.
      expect(seen.cached).toBeGreaterThan(0);
      expect(seen.fetched).toBeGreaterThan(0);
    } finally {
      flipper.kill();
    }
  }, 60_000);
});
