/**
 * `ark-e2ee demo` (`npm run demo`): it runs every scenario, exits 0, no message content leaks,
 * and it says what was and was not encrypted. It lives in the package (dist/cli), needs no
 * devDependency, and runs with plain fetch where openai is not installed.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockArkServer, type MockArkServer } from '../src/testing/index.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(root, 'dist/cli/main.js');
const TITLES = ['Single turn', 'Multi turn', 'Streaming', 'Concurrent', 'Function call', 'X-Client-Request-Id', 'base64 image', 'Error handling', 'Access keys'];
let server: MockArkServer;

beforeAll(async () => {
  if (!existsSync(CLI)) await run('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root });
  server = await startMockArkServer({ apiKey: 'real-key' });
}, 120_000);
afterAll(() => server.close());

const demo = (args: string[] = [], env: Record<string, string> = {}) =>
  run('node', [CLI, 'demo', ...args], { cwd: root, env: { ...process.env, ARK_API_KEY: '', ARK_MODEL: '', NO_COLOR: '1', ...env } });

describe('ark-e2ee demo', () => {
  it.each([['openai'], ['fetch']])('shows every scenario decrypted, with the wire beside it (client %s)', async (client) => {
    const { stdout } = await demo(['--client', client]);
    for (const title of TITLES) expect(stdout).toContain(title);
    expect(stdout).toContain(`client: ${client === 'openai' ? 'the openai package' : 'plain fetch'}`);
    expect(stdout).toContain('✓ decrypted echo: 常见的十字花科植物有哪些?');
    expect(stdout).toMatch(/mock certificate key pin [A-Za-z0-9+/]{43}= \(the value --pin and pinnedKeys take\)/);
    expect(stdout).toMatch(/handshake: fetched the model certificate, key pin [A-Za-z0-9+/]{43}=/);
    expect(stdout).not.toMatch(/SHA-256 ([0-9a-f]{2}:)/);
    expect(stdout).toContain(client === 'openai' ? 'RateLimitError 429' : 'ApiError 429');
    expect(stdout).toMatch(/refused before sending \(nothing sent\): \w+ 400 ERR_ARK_E2EE_UNSUPPORTED_CONTENT/);
    expect(stdout).toMatch(/session token \(ephemeral P-256 key\): B/);
    // The tool call is not called decrypted: it crossed in plain text, and the demo says so.
    expect(stdout).toContain('tool call, in plain text on the wire (not encrypted): get_current_weather({"location":"北京"})');
    expect(stdout).toContain('← wire plain text: tool call get_current_weather({"location":"北京"})');
    expect(stdout).not.toMatch(/decrypted tool call/);
    expect(stdout).toMatch(/wire check: \d+ requests reached the server, 14 chat requests sent, 0 with a message content in plain text\./);
    expect(stdout).toContain('Not encrypted, by the protocol: tool definitions, tool-call names and arguments (both ways)');
    // Access keys: signed OpenAPI calls for a short-lived key and the certificate; no secret shown.
    expect(stdout).toMatch(/OpenAPI GetApiKey, HMAC-SHA256 Credential=AKLTdemo\/\d{8}\/cn-beijing\/ark\/request/);
    expect(stdout).toContain('OpenAPI GetEndpointCertificate');
    expect(stdout).toMatch(/the model certificate, key pin [A-Za-z0-9+/]{43}=, with its sub-CA and root \(chain checked\)/);
    expect(stdout).not.toContain('demo-secret');
  }, 60_000);

  it('with a model that makes no tool call and a service without errors, says so instead of inventing', async () => {
    const { stdout } = await demo([], { ARK_API_KEY: 'real-key', ARK_MODEL: 'mock-model', ARK_BASE_URL: server.url });
    expect(stdout).toContain(`ark-e2ee demo against the Ark service: ${server.url}`);
    expect(stdout).toContain('the model made no tool call this time (finish_reason: stop); its answer:');
    expect(stdout).toContain('the service answered without an error this time');
    expect(stdout).not.toContain('undefined');
    expect(stdout).not.toMatch(/decrypted no error/);
    expect(stdout).toMatch(/wire check: \d+ chat requests sent, 0 with a message content in plain text\./);
  }, 60_000);

  it('lives in the package: npm run demo calls it, and dist imports no devDependency', async () => {
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
      dependencies: Record<string, string>;
      files: string[];
    };
    expect(pkg.scripts['demo']).toBe('node dist/cli/main.js demo');
    expect(pkg.files).toContain('dist');
    const files = (await readdir(join(root, 'dist'), { recursive: true })).filter((f) => f.endsWith('.js'));
    const bare = new Set<string>();
    for (const file of files) {
      const text = await readFile(join(root, 'dist', file), 'utf8');
      for (const [, spec] of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]/g)) {
        // `#…` are the package's own imports (package.json `imports`), not packages.
        if (!spec!.startsWith('.') && !spec!.startsWith('node:') && !spec!.startsWith('#')) bare.add(spec!.split('/').slice(0, spec!.startsWith('@') ? 2 : 1).join('/'));
      }
    }
    for (const name of bare) expect(Object.keys(pkg.dependencies), name).toContain(name);
  });
});
