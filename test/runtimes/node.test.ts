/**
 * Node, as a user's program runs it: the same app as Deno and Bun (fixtures/app.mjs), in a
 * project whose node_modules holds ark-e2ee, by the Node running the tests, and by every other
 * Node binary listed in ARK_E2EE_NODE_BINARIES (paths separated by ':'), for a version matrix:
 * e.g. the `node@20.19.0` and `node@24` npm packages installed in a scratch folder (see
 * README.md, "Runtimes").
 */
import { spawnSync } from 'node:child_process';
import { describeServerRuntime } from './server-app.js';

const extra = (process.env.ARK_E2EE_NODE_BINARIES ?? '').split(':').filter(Boolean);

for (const binary of [process.execPath, ...extra]) {
  const version = spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout?.trim() ?? '';
  if (!/^v\d+\./.test(version)) throw new Error(`ARK_E2EE_NODE_BINARIES: ${binary} is not a Node binary`);
  describeServerRuntime({
    name: `Node ${version}`,
    command: binary,
    args: (_app, runJson) => ['app.mjs', runJson],
    reports: new RegExp(`^node ${version.slice(1).replaceAll('.', '\\.')}$`),
    entry: /\/dist\/index\.js$/,
  });
}
