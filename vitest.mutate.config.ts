import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * The suites Stryker runs against each mutant (npm run mutate, stryker.config.mjs). The suites
 * left out cannot kill a mutant of src/: they drive a browser, another runtime, a child process
 * running dist/ (CLI, examples, demo, the load tests) or check generated docs. They also carry
 * most of the suite's wall-clock time.
 */
/**
 * `ARK_E2EE_MUTATE_SUITES=test/protocol,test/certificates` narrows a run to those folders (or
 * test files): a parser that every suite reaches (certificate reading) would otherwise run
 * hundreds of tests per mutant. A mutant only the suites left out would kill then counts as a survivor, so a
 * narrowed score is a lower bound.
 */
const suites = process.env.ARK_E2EE_MUTATE_SUITES?.split(',').map((entry) =>
  // A folder stands for its test files; a file (`test/faults/abort.test.ts`) for itself.
  entry.endsWith('.ts') ? entry : `${entry.replace(/\/$/, '')}/**/*.test.ts`);

const config = mergeConfig(base, defineConfig({
  test: {
    exclude: [
      '**/node_modules/**',
      'test/browser/**',
      'test/runtimes/**',
      'test/load/**',
      'test/examples.test.ts',
      'test/demo.test.ts',
      'test/cli-doc.test.ts',
      'test/cli.test.ts',
      'test/vectors.test.ts',
      'test/credentials/cli-access-keys.test.ts',
    ],
  },
}));
// Replaced, not merged: mergeConfig would add these to the base config's `test/**/*.test.ts`.
if (suites !== undefined) config.test!.include = suites;

export default config;
