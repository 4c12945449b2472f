#!/usr/bin/env node
/**
 * The size of the browser build, bundled as an application would (esbuild, ESM, minified, noble
 * and every dependency included, code splitting on so that dynamic imports become chunks loaded
 * on first use), then gzipped:
 * - `createEncryptedFetch`: an app that imports only it from `ark-e2ee` (src/browser.ts; the
 *   limit test checks this one);
 * - `src/browser.ts`: everything the browser entry exports.
 * Each is given as the initial chunk (what loads before the first request) and the total of all
 * chunks (what a verification with trustAnchors loads as well).
 *
 *   npm run bundle-size               the numbers
 *   npm run bundle-size -- --analyze  also the largest inputs of the initial chunk
 *   npm run bundle-size -- --json     the numbers as JSON
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

/** `entry` bundled as one browser file (esbuild's result, with its metafile). */
export function bundleForBrowser(entry) {
  return build({
    absWorkingDir: root,
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    // The package's `#` imports (package.json `imports`) resolve to the TypeScript sources, and,
    // without the `node` condition, to their browser stubs (no node:crypto, no disk cache).
    conditions: ['ark-e2ee-source'],
    target: 'es2022',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
}

/** `contents` (an ES module in the repository root) bundled as a browser app gets it, with code splitting. */
export async function bundleAppForBrowser(contents) {
  // Splitting needs an output folder; nothing is written to it (write: false).
  const outdir = mkdtempSync(join(tmpdir(), 'ark-e2ee-bundle-'));
  try {
    return await build({
      absWorkingDir: root,
      stdin: { contents, resolveDir: root, sourcefile: 'app.ts', loader: 'ts' },
      bundle: true,
      minify: true,
      splitting: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      outdir,
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

const gzipped = (bytes) => gzipSync(bytes, { level: 9 }).length;

/** Initial chunk (the entry and what it imports statically) and all chunks, minified and gzipped. */
export async function measure(contents) {
  const result = await bundleAppForBrowser(contents);
  const outputs = result.metafile.outputs;
  const byPath = new Map(result.outputFiles.map((file) => [file.path, file.contents]));
  const pathOf = (key) => join(root, key);
  const entryKey = Object.keys(outputs).find((key) => outputs[key].entryPoint !== undefined);
  const initial = new Set();
  const visit = (key) => {
    if (initial.has(key)) return;
    initial.add(key);
    for (const { path, kind } of outputs[key].imports) if (kind === 'import-statement' && outputs[path]) visit(path);
  };
  visit(entryKey);
  const sum = (keys) => {
    const files = keys.map((key) => byPath.get(pathOf(key)));
    return { minified: files.reduce((n, f) => n + f.length, 0), gzipped: files.reduce((n, f) => n + gzipped(f), 0) };
  };
  const chunks = Object.keys(outputs).filter((key) => key.endsWith('.js'));
  const inputs = new Map();
  for (const key of initial) {
    for (const [path, { bytesInOutput }] of Object.entries(outputs[key].inputs)) inputs.set(path, (inputs.get(path) ?? 0) + bytesInOutput);
  }
  return {
    initial: sum([...initial]),
    total: sum(chunks),
    chunks: chunks.length,
    inputs: [...inputs].map(([path, bytes]) => ({ path, bytes })).sort((a, b) => b.bytes - a.bytes),
  };
}

export const ENCRYPTED_FETCH_APP = "export { createEncryptedFetch } from './src/browser.ts';";
export const WHOLE_BROWSER_ENTRY = "export * from './src/browser.ts';";

function packageOf(path) {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  return match ? match[1] : 'ark-e2ee (src)';
}

const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const fetchOnly = await measure(ENCRYPTED_FETCH_APP);
  const whole = await measure(WHOLE_BROWSER_ENTRY);
  if (process.argv.includes('--json')) {
    const numbers = ({ initial, total, chunks }) => ({ initial, total, chunks });
    console.log(JSON.stringify({ createEncryptedFetch: numbers(fetchOnly), browser: numbers(whole) }));
  } else {
    console.log('browser bundles (esbuild --bundle --minify --splitting --platform=browser --format=esm), gzip -9 per chunk:');
    const rows = [
      ['createEncryptedFetch only', fetchOnly],
      ['all of src/browser.ts', whole],
    ];
    for (const [name, m] of rows) {
      console.log(`${name}:`);
      console.log(`  initial chunk: ${String(m.initial.gzipped).padStart(6)} B gzipped (${kb(m.initial.gzipped)}), ${m.initial.minified} B minified`);
      console.log(`  all ${m.chunks} chunks:  ${String(m.total.gzipped).padStart(6)} B gzipped (${kb(m.total.gzipped)}), ${m.total.minified} B minified`);
    }
  }
  if (process.argv.includes('--analyze')) {
    const byPackage = new Map();
    for (const { path, bytes } of fetchOnly.inputs) byPackage.set(packageOf(path), (byPackage.get(packageOf(path)) ?? 0) + bytes);
    console.log('\ncreateEncryptedFetch initial chunk, minified bytes by package:');
    for (const [name, bytes] of [...byPackage].sort((a, b) => b[1] - a[1])) console.log(`  ${kb(bytes).padStart(9)}  ${name}`);
    console.log('\nlargest inputs:');
    for (const { path, bytes } of fetchOnly.inputs.slice(0, 25)) console.log(`  ${kb(bytes).padStart(9)}  ${path}`);
  }
}
