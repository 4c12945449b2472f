/**
 * The test vectors (vectors/*.json, vectors/FORMAT.md) through the vector runner on both crypto
 * backends, one `it` per file; the files copied from the independent implementation pinned by
 * their SHA-256; and the
 * `ark-e2ee vectors` command as built (dist/cli/main.js): exit codes and report lines.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runVectorFiles, type VectorFile } from '../src/cli/vector-runner.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const VECTORS = fileURLToPath(new URL('../vectors/', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli', 'main.js');

const jsonFiles = (dir: string): string[] => readdirSync(dir).filter((name) => name.endsWith('.json')).sort();
const load = (path: string): VectorFile => JSON.parse(readFileSync(path, 'utf8')) as VectorFile;
const FILES = jsonFiles(VECTORS);

describe('vector files', () => {
  it('there are vector files to run', () => {
    expect(FILES.length).toBeGreaterThanOrEqual(6);
  });

  it.each(FILES)('%s passes on both backends', async (name) => {
    const path = join(VECTORS, name);
    const content = load(path);
    expect(Array.isArray(content.cases)).toBe(true);
    expect(content.cases.length).toBeGreaterThan(0);
    const { runs, failures } = await runVectorFiles([{ path, content }], ['node', 'noble']);
    expect(failures).toEqual([]);
    expect(runs).toBe(2 * content.cases.length);
  });

  it('the files copied from the independent implementation are byte for byte as copied (SHA-256)', () => {
    const pinned: Record<string, string> = {
      'certificate.json': 'ef7ed6ab1c8e4ab0c1b6fd0073a72a4ea304824397ca25dd433cdba2ae750bb8',
      'decrypt_response.json': 'a0a5d694303d500d83f36b7df8bd27b6398740fcf229e4028b72e39fb5dd35f2',
      'decrypt_stream.json': '5afeea92aa51e13d15162adc65e07e5e44edf2c5f327dd421bde50d8f0e961c1',
      'encrypt_request.json': '61d401a6bf47561c104708789380d38ecf4c25165d5b57e996805510632915e8',
      'encrypt_text.json': '241978d3e31dc4417c32c27d31c4d84e85c35f22adfb9afc6e8abd21ef827611',
      'handshake.json': 'cb1d97fa56b758a4677a61ab63d1c1d39f2d34f50ecc8b87454af29148d526ef',
    };
    for (const [name, expected] of Object.entries(pinned)) {
      const digest = createHash('sha256').update(readFileSync(join(VECTORS, name))).digest('hex');
      expect(digest, `vectors/${name} was changed`).toBe(expected);
    }
  });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const lines = (text: string): string[] => text.split('\n').filter((line) => line !== '');
const lastLine = (text: string): string => lines(text).at(-1) ?? '';

describe('ark-e2ee vectors (the built command line)', () => {
  let tmp = '';

  beforeAll(async () => {
    if (!existsSync(CLI)) {
      // tsc emits even when some other file has a type error; only a missing output is fatal.
      await promisify(execFile)('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT }).catch((error: unknown) => {
        if (!existsSync(CLI)) throw error;
      });
    }
    tmp = await mkdtemp(join(tmpdir(), 'ark-e2ee-vectors-'));
  }, 120_000);

  afterAll(async () => {
    if (tmp !== '') await rm(tmp, { recursive: true, force: true });
  });

  it('runs the shipped vectors: exit 0, "N passed, 0 failed"', async () => {
    const run = await cli('vectors');
    expect(run.stdout).not.toMatch(/^FAIL /m);
    expect(run.code).toBe(0);
    const summary = /^(\d+) passed, 0 failed$/.exec(lastLine(run.stdout));
    expect(summary, run.stdout).not.toBeNull();
    const cases = FILES.reduce((sum, name) => sum + load(join(VECTORS, name)).cases.length, 0);
    expect(Number(summary?.[1])).toBe(2 * cases);
  });

  it('reports a case whose expected value was altered: exit 1, a FAIL line per backend', async () => {
    const original = load(join(VECTORS, 'encrypt_text.json'));
    const altered = structuredClone(original);
    const victim = altered.cases[1];
    expect(typeof victim?.expect_ciphertext).toBe('string');
    const sealed = String(victim?.expect_ciphertext);
    victim!.expect_ciphertext = (sealed.startsWith('A') ? 'B' : 'A') + sealed.slice(1);
    const path = join(tmp, 'altered.json');
    await writeFile(path, JSON.stringify(altered, null, 2));

    const run = await cli('vectors', path);
    expect(run.code).toBe(1);
    const fails = lines(run.stdout).filter((line) => line.startsWith('FAIL '));
    for (const backend of ['node', 'noble']) {
      expect(fails.some((line) => line.includes(`[${backend}]`) && line.includes(victim!.name))).toBe(true);
    }
    const summary = /^(\d+) passed, (\d+) failed$/.exec(lastLine(run.stdout));
    expect(summary, run.stdout).not.toBeNull();
    const [passed, failed] = [Number(summary?.[1]), Number(summary?.[2])];
    expect(failed).toBeGreaterThanOrEqual(1);
    expect(failed).toBe(fails.length);
    expect(passed + failed).toBe(2 * original.cases.length);
  });

  it('exits 2 on a path that does not exist', async () => {
    const run = await cli('vectors', join(tmp, 'no-such-file.json'));
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('no-such-file.json');
  });

  it('exits 2 on a file that is not a vector file', async () => {
    const path = join(tmp, 'not-vectors.json');
    await writeFile(path, '{"description": "no cases"}');
    const run = await cli('vectors', path);
    expect(run.code).toBe(2);
  });

  it('prints its help with --help: exit 0', async () => {
    const run = await cli('vectors', '--help');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: ark-e2ee vectors/);
  });
});
