/** docs/cli.md is the CLI's own --help output: regenerate it with `npm run docs:cli`. */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without type declarations
import { renderCliDoc } from '../scripts/cli-doc.mjs';

it('docs/cli.md matches the CLI help (run npm run docs:cli after changing it)', () => {
  const doc = readFileSync(new URL('../docs/cli.md', import.meta.url), 'utf8');
  expect(doc).toBe((renderCliDoc as () => string)());
});
