import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * The suites Stryker runs against each mutant (npm run mutate, stryker.config.mjs). The suites
 * left out cannot kill a mutant of src/: they drive a browser, another runtime, a child process
 * running dist/ (CLI, examples, demo, the load tests) or check generated docs. They also carry
 * most of the suite's wall-clock time.
 */
export default mergeConfig(base, defineConfig({
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
