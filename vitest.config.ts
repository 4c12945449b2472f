import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Every Node consumer loads the Node entry (node:crypto backend, disk cache); so do the tests
    // that import src modules directly. The browser entry is tested without it, in Chromium.
    setupFiles: ['./src/node-platform.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
