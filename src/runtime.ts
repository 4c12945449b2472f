/**
 * Reaching Node's built-in modules without a static `node:` import, so that the modules that use
 * them stay loadable (and bundle cleanly) on runtimes that have none: browsers, edge functions.
 */
interface ProcessLike {
  getBuiltinModule?: (id: string) => unknown;
  env?: Record<string, string | undefined>;
  platform?: string;
  pid?: number;
}

export function nodeProcess(): ProcessLike | undefined {
  return (globalThis as { process?: ProcessLike }).process;
}

/** A Node built-in module, or `undefined` on a runtime without it. */
export function builtinModule<T>(id: `node:${string}`): T | undefined {
  try {
    return nodeProcess()?.getBuiltinModule?.(id) as T | undefined;
  } catch {
    return undefined;
  }
}

/** An environment variable, where the runtime has an environment. */
export function environment(name: string): string | undefined {
  return nodeProcess()?.env?.[name];
}
