/**
 * Which Chromium the browser test and the browser bench drive (with playwright-core), found in
 * this order so that `npm test` needs nothing beyond `npm install`:
 *
 *   1. CHROMIUM_PATH, when it names an executable file;
 *   2. a system Chromium or Chrome at one of the usual paths (left out when
 *      ARK_E2EE_NO_SYSTEM_CHROMIUM=1, to check the path a bare machine takes);
 *   3. the headless Chromium shipped inside the `@sparticuz/chromium` dev dependency (Linux x64),
 *      unpacked once into node_modules/.cache/ark-e2ee/ (about 190 MB, a few seconds).
 *
 * Nothing is downloaded: @sparticuz/chromium carries the binary in the npm package itself.
 * Returns undefined when none of the three is there; the caller decides (the browser test fails,
 * unless ARK_E2EE_SKIP_BROWSER=1 says to skip it).
 */
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

export const SYSTEM_CHROMIUM_PATHS = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
  '/snap/bin/chromium',
  '/Applications/Chromium.app/Contents/MacOS/Chromium',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
];

function isExecutableFile(path) {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Unpacks @sparticuz/chromium's binary into a cache folder of this checkout, once. The package
 * unpacks into os.tmpdir() and reuses whatever it finds there, so it is pointed (through TMPDIR)
 * at a fresh private folder, which is renamed into place only when complete: a half-unpacked
 * binary is never used, and nothing another user left in /tmp is trusted.
 */
async function unpackSparticuz(notes) {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    notes.push(`@sparticuz/chromium ships a Linux x64 binary only (this is ${process.platform} ${process.arch})`);
    return undefined;
  }
  let version;
  try {
    // Its exports map hides package.json: read it beside the resolved entry (build/cjs/index.cjs).
    const entry = createRequire(join(root, 'package.json')).resolve('@sparticuz/chromium');
    version = JSON.parse(readFileSync(join(dirname(entry), '..', '..', 'package.json'), 'utf8')).version;
  } catch {
    notes.push('@sparticuz/chromium is not installed (npm install brings it as a dev dependency)');
    return undefined;
  }
  const cacheRoot = join(root, 'node_modules', '.cache', 'ark-e2ee');
  const target = join(cacheRoot, `sparticuz-chromium-${version}`);
  const binary = join(target, 'chromium');
  if (existsSync(join(target, 'complete')) && isExecutableFile(binary)) return binary;

  mkdirSync(cacheRoot, { recursive: true, mode: 0o700 });
  const staging = mkdtempSync(join(cacheRoot, 'unpacking-'));
  const savedTmpdir = process.env.TMPDIR;
  try {
    process.env.TMPDIR = staging;
    const { default: Chromium } = await import('@sparticuz/chromium');
    const unpacked = await Chromium.executablePath();
    if (unpacked !== join(staging, 'chromium')) throw new Error(`unpacked to ${unpacked}, not into ${staging}`);
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    throw error;
  } finally {
    if (savedTmpdir === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmpdir;
  }
  writeFileSync(join(staging, 'complete'), `${version}\n`);
  try {
    renameSync(staging, target);
  } catch (error) {
    // Another process finished first (the target exists): use its copy.
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(join(target, 'complete'))) throw error;
  }
  return binary;
}

/**
 * @returns {Promise<{ executablePath: string, source: string, notes: string[] } | undefined>}
 *   `source` says where it was found; `notes` say what was passed over and why.
 */
export async function findChromium(env = process.env) {
  const notes = [];
  const fromEnv = env.CHROMIUM_PATH;
  if (fromEnv) {
    if (isExecutableFile(fromEnv)) return { executablePath: fromEnv, source: 'CHROMIUM_PATH', notes };
    notes.push(`CHROMIUM_PATH=${fromEnv} is not an executable file`);
  }
  if (env.ARK_E2EE_NO_SYSTEM_CHROMIUM === '1') {
    notes.push('system paths not searched (ARK_E2EE_NO_SYSTEM_CHROMIUM=1)');
  } else {
    const system = SYSTEM_CHROMIUM_PATHS.find(isExecutableFile);
    if (system) return { executablePath: system, source: 'system', notes };
    notes.push(`no Chromium at ${SYSTEM_CHROMIUM_PATHS.join(', ')}`);
  }
  const packaged = await unpackSparticuz(notes);
  if (packaged) return { executablePath: packaged, source: '@sparticuz/chromium', notes };
  return undefined;
}
