/**
 * Deno (the `deno` npm package's binary): a user's project with package.json and node_modules,
 * `import 'ark-e2ee'` resolved by Deno through node_modules (the `node` condition), run with only
 * the permissions the library needs: loopback to the mock, reading the package, and the
 * environment variables it honours (ENVIRONMENT below; README.md lists them for Deno users).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runtimeBinary, skipUnlessRunnable } from './helpers.js';
import { describeServerRuntime } from './server-app.js';

const deno = runtimeBinary('deno');

/**
 * Every environment variable the library reads (through src/runtime.ts `environment`, or
 * `environmentOf(options, …)`, which reads the `env` option when given).
 */
const ENVIRONMENT = ['E2E_CERTIFICATE_PATH', 'VOLC_ACCESSKEY', 'VOLC_ARK_ENCRYPTION', 'VOLC_SECRETKEY'];

describe('the environment Deno is allowed to read', () => {
  it('is every variable src/ reads: a new one goes here and into README.md (Deno users grant it)', () => {
    const read = new Set<string>();
    for (const file of readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' })) {
      if (!file.endsWith('.ts')) continue;
      const text = readFileSync(join(ROOT, 'src', file), 'utf8');
      for (const match of text.matchAll(/\benvironment(?:Of\(\w+, |\()'([A-Z0-9_]+)'\)/g)) read.add(match[1]!);
    }
    expect([...read].sort()).toEqual(ENVIRONMENT);
  });
});

describeServerRuntime({
  name: 'Deno',
  command: 'path' in deno ? deno.path : 'deno',
  args: (app, runJson, mock) => [
    'run',
    '--no-prompt',
    `--allow-net=127.0.0.1:${mock.port}`,
    `--allow-read=${app},${ROOT}`,
    `--allow-env=${ENVIRONMENT.join(',')}`,
    'app.mjs',
    runJson,
  ],
  // No update check (nothing but loopback); Deno's own cache under node_modules/.cache.
  env: { DENO_NO_UPDATE_CHECK: '1', DENO_NO_PROMPT: '1', NO_COLOR: '1', DENO_DIR: join(ROOT, 'node_modules', '.cache', 'ark-e2ee', 'deno') },
  reports: /^deno 2\./,
  entry: /\/dist\/index\.js$/,
  skip: skipUnlessRunnable('Deno', deno),
});
