/** `npm run demo`, the main job: it runs every scenario, exits 0, and no question leaks. */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { beforeAll, expect, it } from 'vitest';

const run = promisify(execFile);
const root = new URL('..', import.meta.url);

beforeAll(async () => {
  if (!existsSync(new URL('dist/index.js', root))) await run('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root });
}, 120_000);

it('npm run demo shows every scenario decrypted, with the wire beside it', async () => {
  const env = { ...process.env, ARK_API_KEY: '', ARK_MODEL: '', NO_COLOR: '1' };
  const { stdout } = await run('node', ['scripts/demo.mjs'], { cwd: root, env });
  for (const title of ['Single turn', 'Multi turn', 'Streaming', 'Concurrent', 'Function call', 'X-Client-Request-Id', 'base64 image', 'Error handling', 'Access keys']) {
    expect(stdout).toContain(title);
  }
  expect(stdout).toContain('✓ decrypted echo: 常见的十字花科植物有哪些?');
  expect(stdout).toContain('RateLimitError 429');
  expect(stdout).toContain('ERR_ARK_E2EE_UNSUPPORTED_CONTENT');
  expect(stdout).toMatch(/session token \(ephemeral P-256 key\): B/);
  expect(stdout).toMatch(/OpenAPI GetApiKey, HMAC-SHA256 Credential=AKLTdemo\/\d{8}\/cn-beijing\/ark\/request/);
  expect(stdout).toContain('OpenAPI GetEndpointCertificate');
  expect(stdout).toContain('with its sub-CA and root (chain checked)');
  expect(stdout).not.toContain('demo-secret');
  expect(stdout).toMatch(/wire check: \d+ requests reached the server, 0 carried a question in plain text\./);
});
