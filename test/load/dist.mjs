/**
 * The built library for the child-process scripts: `dist/` of this package, or the folder named
 * by ARK_E2EE_DIST (to try a build made elsewhere without touching dist/).
 */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const configured = process.env.ARK_E2EE_DIST;
export const distDir = configured ? (isAbsolute(configured) ? configured : resolve(root, configured)) : resolve(root, 'dist');

// The built files import `#crypto/native` and `#certificates/files`, which Node resolves through
// the `imports` of the package.json above them: a copy of dist/ needs one beside it.
if (configured && !existsSync(resolve(distDir, '..', 'package.json'))) {
  throw new Error(`ARK_E2EE_DIST=${configured}: put a copy of package.json beside this folder (named dist) for its # imports to resolve`);
}

/** `import()` of a module of the built library, e.g. `distModule('testing/index.js')`. */
export async function distModule(path) {
  const file = resolve(distDir, path);
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` first`);
  return import(pathToFileURL(file).href);
}
