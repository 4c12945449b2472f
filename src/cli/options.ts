/** Settings the commands that talk to Ark share: base URL, API key, cache folder. */
import { UsageError, type CliIO } from './command.js';

export const DEFAULT_BASE_URL = 'https://ark.cn-beijing.volces.com/api/v3';

export function baseUrlOf(flag: string | undefined, io: CliIO): string {
  return (flag ?? io.env.ARK_BASE_URL ?? DEFAULT_BASE_URL).replace(/\/+$/, '');
}

export function apiKeyOf(io: CliIO): string {
  const key = io.env.ARK_API_KEY;
  if (!key) throw new UsageError('set ARK_API_KEY to your Ark API key');
  return key;
}

/** `--cache-dir DIR` or `--no-cache`; default: the library's default (~/.ark/certificates). */
export function cacheDirOf(values: { 'cache-dir'?: string; 'no-cache'?: boolean }): string | false | undefined {
  return values['no-cache'] ? false : values['cache-dir'];
}

export const CACHE_OPTIONS = {
  'cache-dir': { type: 'string' },
  'no-cache': { type: 'boolean' },
} as const;

export const CACHE_HELP = `  --cache-dir DIR  certificate cache folder (default ~/.ark/certificates)
  --no-cache       keep certificates in memory only`;
