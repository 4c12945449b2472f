import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'vectors/'] },
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
    files: ['scripts/**/*.mjs', 'bench/**/*.mjs', 'examples/**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', fetch: 'readonly' } },
  },
);
