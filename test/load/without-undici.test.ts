/**
 * undici is an optional peer dependency: the library imports it only for types. This proves it on
 * the built package: a user's project whose node_modules holds ark-e2ee (a copy of dist/ and
 * package.json) and its dependencies but no undici. A child Node process there imports the main
 * entry by name, checks that undici cannot be resolved, and makes an encrypted chat through
 * createEncryptedFetch against the mock server.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { mockAnswerText, startMockArkServer, type MockArkServer } from '../../src/testing/index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const API_KEY = 'no-undici-key';

/** The child: prints one JSON line with what it saw. */
const CHILD = `
const result = { entry: import.meta.resolve('ark-e2ee') };
try { await import('undici'); result.undici = 'resolved'; } catch (error) { result.undici = error.code; }
const { createEncryptedFetch, resolveBackend } = await import('ark-e2ee');
result.backend = resolveBackend('auto').name;
const [url, apiKey, text] = process.argv.slice(1);
const response = await createEncryptedFetch({ cacheDir: false })(url + '/chat/completions', {
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: 'Bearer ' + apiKey, 'x-is-encrypted': 'true' },
  body: JSON.stringify({ model: 'mock-model', messages: [{ role: 'user', content: text }] }),
});
result.status = response.status;
result.content = (await response.json()).choices[0].message.content;
console.log(JSON.stringify(result));
`;

let app: string;
let mock: MockArkServer;

/** A user's project: node_modules/ark-e2ee a copy (not a link: a link would reach this checkout's undici). */
function makeAppWithoutUndici(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ark-e2ee-no-undici-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'no-undici-app', private: true, type: 'module' }));
  const pkg = join(dir, 'node_modules', 'ark-e2ee');
  mkdirSync(pkg, { recursive: true });
  // The `#` imports of dist/ resolve through the package.json beside it.
  cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
  cpSync(join(ROOT, 'dist'), join(pkg, 'dist'), { recursive: true });
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  for (const name of Object.keys(manifest.dependencies)) {
    const link = join(dir, 'node_modules', name);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules', name), link, 'dir');
  }
  return dir;
}

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist', 'index.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
  app = makeAppWithoutUndici();
  mock = await startMockArkServer({ apiKey: API_KEY });
});

afterAll(async () => {
  await mock?.close();
  if (app) rmSync(app, { recursive: true, force: true });
});

it('the main entry loads and createEncryptedFetch encrypts a chat where undici cannot be resolved', async () => {
  expect(Object.keys(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).dependencies)).not.toContain('undici');
  const text = 'A question asked without undici installed';
  // Not spawnSync: the mock server answers from this process's event loop.
  const child = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const running = spawn(process.execPath, ['--input-type=module', '-e', CHILD, mock.url, API_KEY, text], { cwd: app });
    let stdout = '';
    let stderr = '';
    running.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    running.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    running.once('error', reject);
    running.once('close', (status) => resolve({ status, stdout, stderr }));
  });
  expect(child.stderr).toBe('');
  expect(child.status).toBe(0);
  const result = JSON.parse(child.stdout.trim()) as Record<string, unknown>;
  expect(result.entry).toBe(`file://${join(app, 'node_modules', 'ark-e2ee', 'dist', 'index.js')}`);
  expect(result.undici).toBe('ERR_MODULE_NOT_FOUND');
  expect(result.backend).toBe('node');
  expect(result.status).toBe(200);
  expect(result.content).toBe(mockAnswerText([{ role: 'user', content: text }]));
  const chats = mock.requests.filter((request) => request.path.endsWith('/chat/completions'));
  expect(chats).toHaveLength(1);
  expect(chats[0]!.headers['x-is-encrypted']).toBe('true');
  expect(chats[0]!.body).not.toContain(text);
}, 60_000);
