/**
 * An edge worker bundled as its deployer's tooling would: esbuild, `ark-e2ee` taken by name
 * with the runtime's export conditions, everything inlined, nothing left to import.
 */
import { build } from 'esbuild';
import { ROOT } from './helpers.js';

/** Our modules that only Node has: none may reach an edge bundle (as in test/browser). */
const NODE_ONLY = [
  /^node:/,
  /^dist\/index\.js$/,
  /^dist\/certificates\/(disk-cache|safe-file|certificate-file|files-node)\.js$/,
  /^dist\/crypto\/(node|native-node)\.js$/,
  /^dist\/transport\/(undici\/.*|proxy)\.js$/,
  /^dist\/(testing|cli)\//,
  /(^|\/)node_modules\/undici\//,
];

export interface WorkerBundle {
  code: string;
  /** Which file of the package the bundle took as `ark-e2ee`. */
  entry: string | undefined;
  /** Inputs or imports that only Node has (must be empty). */
  nodeOnly: string[];
}

export async function bundleWorker(entry: string, conditions: string[], format: 'esm' | 'iife'): Promise<WorkerBundle> {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [entry],
    bundle: true,
    format,
    platform: 'neutral',
    mainFields: ['module', 'main'],
    conditions,
    target: 'es2022',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const inputs = Object.keys(result.metafile.inputs);
  const imports = Object.values(result.metafile.outputs).flatMap((output) => output.imports.map((i) => i.path));
  return {
    code: result.outputFiles[0]!.text,
    entry: inputs.find((path) => path === 'dist/browser.js' || path === 'dist/index.js'),
    nodeOnly: [...inputs, ...imports].filter((path) => NODE_ONLY.some((pattern) => pattern.test(path))),
  };
}
