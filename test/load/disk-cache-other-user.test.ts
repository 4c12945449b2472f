/**
 * The disk cache read by another local user (docs/security.md, "The certificate cache and other
 * local users"): a certificate file root owns, in the home of a user who is not root. The user
 * is a child process with an unused uid running the built library (dist/), so this suite sits
 * with the other tests of dist/ in child processes; it runs as root only (chown, setuid).
 * The other cases of a second user are in test/certificates/disk-cache-local-attacker.test.ts.
 */
import { spawn } from 'node:child_process';
import { chmod, chown, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PLAIN, PLAIN_2, removeDir, tempDir } from '../certificates/helpers.js';

/** A uid no account on a test machine has. */
const OTHER_UID = 12345;
const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('disk-cache-other-user: not root, so this case (chown, setuid) is skipped');
const asRoot = it.skipIf(!isRoot);

let tmp: string;
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(() => removeDir(tmp));

describe('a file root owns, read by another user', () => {
  asRoot('is used (root can replace any file anyway), and never replaced', async () => {
    // The user: uid OTHER_UID, with a home of its own holding a root-owned certificate file.
    const userHome = join(tmp, 'home');
    const cache = join(userHome, '.ark', 'certificates');
    await mkdir(cache, { recursive: true, mode: 0o755 });
    for (const folder of [userHome, join(userHome, '.ark'), cache]) await chown(folder, OTHER_UID, OTHER_UID);
    await chmod(tmp, 0o755);
    await writeFile(join(cache, 'ep-model.pem'), PLAIN_2, { mode: 0o644 });
    const script = `
      const { pathToFileURL } = await import('node:url');
      const dist = (p) => import(pathToFileURL(process.argv[1] + '/' + p).href);
      const { createDiskCache } = await dist('certificates/disk-cache.js');
      const { OFFICIAL_BASE_URL } = await dist('certificates/origin.js');
      const warnings = [];
      const store = createDiskCache(process.argv[2], (m) => warnings.push(m));
      const read = await store.read(OFFICIAL_BASE_URL, 'ep-model');
      await store.write(OFFICIAL_BASE_URL, 'ep-model', process.argv[3]);
      process.stdout.write(JSON.stringify({ uid: process.getuid(), pem: read?.pem, warnings }));
    `;
    const dist = fileURLToPath(new URL('../../dist', import.meta.url));
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, dist, cache, PLAIN], {
      uid: OTHER_UID, gid: OTHER_UID, env: { PATH: process.env.PATH ?? '', HOME: userHome }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    expect(await new Promise((resolve) => child.once('exit', resolve)), err).toBe(0);
    const result = JSON.parse(out) as { uid: number; pem?: string; warnings: string[] };
    expect(result.uid).toBe(OTHER_UID);
    expect(result.pem).toBe(PLAIN_2);
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]).toMatch(/belongs to another user \(uid 0\).*memory only/s);
    expect(await readFile(join(cache, 'ep-model.pem'), 'utf8')).toBe(PLAIN_2);
    expect((await stat(join(cache, 'ep-model.pem'))).uid).toBe(0);
  });
});
