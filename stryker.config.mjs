// Mutation testing of the security-critical folders (CONTRIBUTING.md, "Mutation testing").
// npm run mutate                                     every folder below (tens of minutes)
// npm run mutate -- --mutate src/protocol/request.ts one file
// npm run mutate:incremental                         only what changed since the last run
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutate.config.ts' },
  coverageAnalysis: 'perTest',
  mutate: [
    'src/protocol/**/*.ts',
    'src/crypto/**/*.ts',
    'src/transport/**/*.ts',
    'src/certificates/**/*.ts',
  ],
  // Two cores shared with the rest of the machine: one test process. Raise it with --concurrency.
  concurrency: 1,
  // A mutant reached while modules load (a module-level constant, or code a test file runs outside
  // its tests) needs the whole suite re-run, about a minute each here; with this on, such a mutant
  // is tested by the tests that reach it at run time, and one reached only at load is left out.
  // Run with --ignoreStatic false to include them (hours).
  ignoreStatic: true,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  incrementalFile: 'reports/stryker-incremental.json',
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
  thresholds: { high: 90, low: 80, break: null },
};
