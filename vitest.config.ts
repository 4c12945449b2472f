import { defineConfig } from 'vitest/config';

/**
 * `ark-e2ee-source` makes the package's `#` imports (package.json `imports`) resolve to the
 * TypeScript sources, as tsconfig.json's `customConditions` does for tsc; `node` picks the Node
 * implementations (the node:crypto backend, the disk cache), as for every Node consumer. The
 * browser side is tested in Chromium (test/browser) and on edge runtimes (test/runtimes).
 */
const conditions = ['ark-e2ee-source', 'node', 'import', 'default'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['node'] } },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
