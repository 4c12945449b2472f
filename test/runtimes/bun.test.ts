/**
 * Bun (the `bun` npm package's binary): a user's project with package.json and node_modules,
 * `import 'ark-e2ee'` resolved by Bun through node_modules (the `node` condition).
 */
import { runtimeBinary, skipUnlessRunnable } from './helpers.js';
import { describeServerRuntime } from './server-app.js';

const bun = runtimeBinary('bun');

describeServerRuntime({
  name: 'Bun',
  command: 'path' in bun ? bun.path : 'bun',
  args: (_app, runJson) => ['run', 'app.mjs', runJson],
  env: { DO_NOT_TRACK: '1', NO_COLOR: '1' },
  reports: /^bun 1\./,
  entry: /\/dist\/index\.js$/,
  skip: skipUnlessRunnable('Bun', bun),
});
