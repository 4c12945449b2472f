/** `ark-e2ee vectors [PATH…]`: run test-vector files on both backends. */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from '../command.js';
import { runVectorFiles, type VectorFile } from '../vector-runner.js';

const HELP = `Usage: ark-e2ee vectors [PATH…]

Runs every case of the test-vector files (vectors/FORMAT.md) through the public API on both
crypto backends (node and noble). PATH is a JSON file or a folder of them; default: the
vectors/ folder shipped with the package.

Prints one line per failure, then "N passed, M failed".
Exit codes: 0 all passed, 1 a case failed, 2 a file could not be read.`;

const DEFAULT_DIR = fileURLToPath(new URL('../../../vectors/', import.meta.url));

async function expand(path: string): Promise<string[]> {
  if (!(await stat(path)).isDirectory()) return [path];
  const names = (await readdir(path)).filter((name) => name.endsWith('.json')).sort();
  return names.map((name) => join(path, name));
}

async function run(paths: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const files: { path: string; content: VectorFile }[] = [];
  try {
    for (const path of paths.length > 0 ? paths : [DEFAULT_DIR]) {
      for (const file of await expand(path)) {
        const content = JSON.parse(await readFile(file, 'utf8')) as VectorFile;
        if (!Array.isArray(content.cases)) throw new Error(`${file} has no "cases" array`);
        files.push({ path: file, content });
      }
    }
  } catch (error) {
    err.write(`ark-e2ee vectors: ${(error as Error).message}\n`);
    return 2;
  }
  const { runs, failures } = await runVectorFiles(files);
  for (const f of failures) out.write(`FAIL ${f.file} [${f.backend}] ${f.name}: ${f.problem}\n`);
  out.write(`${runs - failures.length} passed, ${failures.length} failed\n`);
  return failures.length === 0 ? 0 : 1;
}

export const vectorsCommand: Command = {
  name: 'vectors',
  summary: 'run test-vector files through the library on both backends',
  help: HELP,
  run: (args, io) => run(args, io.stdout, io.stderr),
};
