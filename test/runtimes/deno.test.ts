/**
 * Deno (the `deno` npm package's binary): a user's project with package.json and node_modules,
 * `import 'ark-e2ee'` resolved by Deno through node_modules (the `node` condition), run with only
 * the permissions the library needs: loopback to the mock, reading the package, and the two
 * environment variables it honours (VOLC_ARK_ENCRYPTION, E2E_CERTIFICATE_PATH).
 */
import { join } from 'node:path';
import { ROOT, runtimeBinary, skipUnlessRunnable } from './helpers.js';
import { describeServerRuntime } from './server-app.js';

const deno = runtimeBinary('deno');

describeServerRuntime({
  name: 'Deno',
  command: 'path' in deno ? deno.path : 'deno',
  args: (app, runJson, mock) => [
    'run',
    '--no-prompt',
    `--allow-net=127.0.0.1:${mock.port}`,
    `--allow-read=${app},${ROOT}`,
    '--allow-env=VOLC_ARK_ENCRYPTION,E2E_CERTIFICATE_PATH',
    'app.mjs',
    runJson,
  ],
  // No update check (nothing but loopback); Deno's own cache under node_modules/.cache.
  env: { DENO_NO_UPDATE_CHECK: '1', DENO_NO_PROMPT: '1', NO_COLOR: '1', DENO_DIR: join(ROOT, 'node_modules', '.cache', 'ark-e2ee', 'deno') },
  reports: /^deno 2\./,
  entry: /\/dist\/index\.js$/,
  skip: skipUnlessRunnable('Deno', deno),
});
