import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'vectors/', 'reports/', '.stryker-tmp/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      // Layering: pure protocol code must not depend on Node or on upper layers.
      'no-restricted-imports': 'off',
    },
  },
  {
    files: ['src/protocol/**/*.ts', 'src/crypto/backend.ts', 'src/crypto/noble.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*'], message: 'src/protocol and the noble backend run on any runtime.' },
            { group: ['../transport/*', '../certificates/*', '../cli/*', '../testing/*'], message: 'a lower layer never imports from above' },
          ],
        },
      ],
    },
  },
  {
    // The runtime-neutral core (what src/browser.ts reaches) runs in browsers and edge runtimes:
    // no Node built-in and no Node-only module of ours, except as erased type-only imports.
    files: [
      'src/protocol/**/*.ts',
      'src/crypto/backend.ts',
      'src/crypto/noble.ts',
      'src/crypto/select.ts',
      'src/crypto/native-none.ts',
      'src/certificates/files-none.ts',
      'src/crypto/gcm-boundary.ts',
      'src/crypto/webcrypto-seal.ts',
      'src/certificates/source.ts',
      'src/certificates/service.ts',
      'src/certificates/trust.ts',
      'src/transport/encryptor.ts',
      'src/transport/encrypted-fetch.ts',
      'src/errors.ts',
      'src/any-signal.ts',
      'src/browser.ts',
    ],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: builtinModules
            .filter((name) => !name.startsWith('_'))
            .map((name) => ({
              name,
              allowTypeImports: true,
              message: 'the browser core must not depend on Node: reach it through a `#` import with a `node` condition (package.json `imports`).',
            })),
          patterns: [
            {
              group: ['node:*'],
              allowTypeImports: true,
              message: 'the browser core must not depend on Node: reach it through a `#` import with a `node` condition (package.json `imports`).',
            },
            {
              group: ['undici', '**/certificates/disk-cache.js', '**/certificates/safe-file.js', '**/certificates/certificate-file.js', '**/certificates/files-node.js', '**/crypto/node.js', '**/crypto/native-node.js', '**/index.js', '**/transport/undici/**', '**/transport/proxy.js', '**/testing/**', '**/cli/**'],
              allowTypeImports: true,
              message: 'a Node-only module: the browser core reaches it only through `#crypto/native` or `#certificates/files` (package.json `imports`).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['scripts/**/*.mjs', 'bench/**/*.mjs', 'examples/**/*.mjs', 'test/**/*.mjs'],
    languageOptions: {
      globals: Object.fromEntries(
        [
          'process', 'console', 'Buffer', 'URL', 'fetch', 'Headers', 'Request', 'Response', 'TextDecoder',
          'TextEncoder', 'ReadableStream', 'AbortController', 'AbortSignal', 'performance', 'setImmediate',
          'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
);
