/**
 * Shared by the runtime tests (test/runtimes/*.test.ts): the mock Ark server they all talk to,
 * a user's app folder with `ark-e2ee` in its node_modules, a child process runner, the runtime
 * binaries that npm installs (dev dependencies), and the checks every runtime's answer must pass.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { mockAnswerText, type MockArkServer } from '../../src/testing/index.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

export const API_KEY = 'runtime-test-key';
export const MODEL = 'mock-model';

/** What a runtime is asked to send: texts unique to that runtime, so the mock's log is unambiguous. */
export interface ChatRun {
  api: string;
  apiKey: string;
  model: string;
  plainText: string;
  streamedText: string;
}

export function chatRun(mock: MockArkServer, runtime: string): ChatRun {
  return {
    api: mock.url,
    apiKey: API_KEY,
    model: MODEL,
    plainText: `Plain question from ${runtime}: 你好，世界 🌍`,
    streamedText: `Streamed question from ${runtime}, please: 流式 ✓`,
  };
}

export interface ChatResults {
  plain: { status: number; content: string };
  streamed: { status: number; contentType: string | null; content: string; chunks: number; done: boolean };
}

export interface AppResults extends ChatResults {
  runtime: string;
  entry: string;
  backend: string;
  vectors: { files: number; cases: number; runs: number; failed: number; failures: unknown[] };
}

/** The package as its users get it: built (dist/), so `npm run build` must have run (npm test does). */
export function requireBuild(): void {
  if (!existsSync(join(ROOT, 'dist', 'index.js')) || !existsSync(join(ROOT, 'dist', 'browser.js'))) {
    throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
  }
}

/**
 * A user's project: package.json depending on ark-e2ee, node_modules/ark-e2ee linked to this
 * checkout, and the app (fixtures/app.mjs, fixtures/chats.mjs). Returns its folder.
 */
export function makeApp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ark-e2ee-runtime-'));
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'runtime-app', private: true, type: 'module', dependencies: { 'ark-e2ee': '*' } }),
  );
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules', 'ark-e2ee'), 'dir');
  for (const file of ['app.mjs', 'chats.mjs']) copyFileSync(join(FIXTURES, file), join(dir, file));
  return dir;
}

export function removeApp(dir: string | undefined): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
}

export interface ChildRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a child to its end (killed after `timeoutMs`), collecting its output. */
export function runChild(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? ROOT,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 90_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The last line of a child's stdout as JSON, or an error that shows everything it printed. */
export function lastJsonLine<T>(run: ChildRun, what: string): T {
  const line = run.stdout.trim().split('\n').at(-1) ?? '';
  if (run.code !== 0 || !line.startsWith('{')) {
    throw new Error(`${what} exited with ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
  }
  return JSON.parse(line) as T;
}

/**
 * A runtime binary installed by npm (node_modules/.bin/NAME) and its version, or why it cannot
 * run on this machine (the package ships binaries for some platforms only).
 */
export function runtimeBinary(name: string, versionArgs = ['--version']): { path: string; version: string } | { problem: string } {
  const path = join(ROOT, 'node_modules', '.bin', name);
  if (!existsSync(path)) return { problem: `${path} is missing (npm install brings it as a dev dependency)` };
  const probe = spawnSync(path, versionArgs, { encoding: 'utf8', timeout: 30_000 });
  if (probe.status !== 0) {
    return { problem: `${path} ${versionArgs.join(' ')} failed: ${probe.error?.message ?? probe.stderr.trim()}` };
  }
  return { path, version: probe.stdout.trim().split('\n')[0] ?? '' };
}

/**
 * A runtime test runs when its binary does; when the binary cannot run here it is skipped with
 * the reason printed, except under CI, where it must run.
 */
export function skipUnlessRunnable(name: string, binary: ReturnType<typeof runtimeBinary>): boolean {
  if (!('problem' in binary)) return false;
  if (process.env.CI) return false;
  console.warn(`test/runtimes: SKIPPING ${name}: ${binary.problem}`);
  return true;
}

/** The answers a runtime got back are the mock's answers to what it sent, decrypted. */
export function expectChats(results: ChatResults, run: ChatRun): void {
  expect(results.plain).toEqual({
    status: 200,
    content: mockAnswerText([{ role: 'user', content: run.plainText }]),
  });
  expect(results.streamed.status).toBe(200);
  expect(results.streamed.contentType).toContain('text/event-stream');
  expect(results.streamed.content).toBe(mockAnswerText([{ role: 'user', content: run.streamedText }]));
  expect(results.streamed.chunks).toBeGreaterThan(3);
  expect(results.streamed.done).toBe(true);
}

/** The mock received both chats encrypted, opened them to what was sent, and saw no plaintext. */
export function expectEncryptedOnTheWire(mock: MockArkServer, run: ChatRun): void {
  const chats = mock.requests.filter(
    (request) => request.path.endsWith('/chat/completions') && request.body.includes(run.model),
  );
  const opened = chats.map((request) => JSON.stringify(request.decryptedMessages));
  expect(opened).toContain(JSON.stringify([{ role: 'user', content: run.plainText }]));
  expect(opened).toContain(JSON.stringify([{ role: 'user', content: run.streamedText }]));
  const mine = chats.filter((request) =>
    [run.plainText, run.streamedText].some((text) => JSON.stringify(request.decryptedMessages).includes(text)),
  );
  expect(mine).toHaveLength(2);
  for (const request of mine) {
    expect(request.headers['x-is-encrypted']).toBe('true');
    for (const secret of [run.plainText, run.streamedText]) {
      expect(request.body).not.toContain(secret);
      expect(request.body).not.toContain(JSON.stringify(secret).slice(1, -1));
    }
  }
}

/** The vectors shipped with the package all passed, on both backends. */
export function expectVectors(results: AppResults): void {
  expect(results.vectors.failures).toEqual([]);
  expect(results.vectors.failed).toBe(0);
  expect(results.vectors.files).toBeGreaterThanOrEqual(6);
  expect(results.vectors.cases).toBeGreaterThan(0);
  expect(results.vectors.runs).toBe(2 * results.vectors.cases);
}
