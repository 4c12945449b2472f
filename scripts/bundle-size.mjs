#!/usr/bin/env node
/**
 * The size of the browser build: everything src/browser.ts exports, bundled for the browser with
 * esbuild (ESM, minified, noble and every dependency included), then gzipped.
 *
 *   npm run bundle-size               both numbers
 *   npm run bundle-size -- --analyze  also the largest inputs (from esbuild's metafile)
 *   npm run bundle-size -- --json     the numbers as JSON
 */
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

/** `entry` bundled as a browser would get it (esbuild's result, with its metafile). */
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

export async function measureBrowserBundle() {
  const result = await bundleForBrowser('src/browser.ts');
  const code = result.outputFiles[0].contents;
  const output = Object.values(result.metafile.outputs)[0];
  return {
    minified: code.length,
    gzipped: gzipSync(code, { level: 9 }).length,
    inputs: Object.entries(output.inputs)
      .map(([path, { bytesInOutput }]) => ({ path, bytes: bytesInOutput }))
      .sort((a, b) => b.bytes - a.bytes),
  };
}

function packageOf(path) {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  return match ? match[1] : 'ark-e2ee (src)';
}

const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { minified, gzipped, inputs } = await measureBrowserBundle();
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify({ minified, gzipped }));
  } else {
    console.log(`browser bundle (src/browser.ts, esbuild --bundle --minify --platform=browser --format=esm)`);
    console.log(`minified: ${minified} bytes (${kb(minified)})`);
    console.log(`gzipped:  ${gzipped} bytes (${kb(gzipped)})`);
  }
  if (process.argv.includes('--analyze')) {
    const byPackage = new Map();
    for (const { path, bytes } of inputs) byPackage.set(packageOf(path), (byPackage.get(packageOf(path)) ?? 0) + bytes);
    console.log('\nminified bytes by package:');
    for (const [name, bytes] of [...byPackage].sort((a, b) => b[1] - a[1])) console.log(`  ${kb(bytes).padStart(9)}  ${name}`);
    console.log('\nlargest inputs:');
    for (const { path, bytes } of inputs.slice(0, 25)) console.log(`  ${kb(bytes).padStart(9)}  ${path}`);
  }
}
