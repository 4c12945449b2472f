import { onTestFinished, vi } from 'vitest';

/**
 * `load()` after the module cache is emptied, so that the modules it imports run their top level
 * again; the cache is emptied again when the test ends. A value a module sets once when it loads
 * (a table, a pattern, a decoder) is switched by a mutation run only while that module loads, so
 * a test that is to notice it reads a copy loaded here (docs/security.md, "Mutation testing").
 * Classes come afresh too: check a fresh module's errors by `name` and `code`, not `instanceof`.
 */
export async function loadAfresh<T>(load: () => Promise<T>): Promise<T> {
  vi.resetModules();
  onTestFinished(() => {
    vi.resetModules();
  });
  return load();
}
