/** Settings the commands that talk to Ark share: base URL, API key, cache folder. */
import { readFile } from 'node:fs/promises';
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

export const TRUST_OPTIONS = {
  'trust-anchor': { type: 'string', multiple: true },
  pin: { type: 'string', multiple: true },
} as const;

export const TRUST_HELP = `  --trust-anchor FILE  a PEM root the model certificate must chain to; may repeat
  --pin PIN        base64 SHA-256 key pin the certificate must have (\`cert\` shows it); may repeat`;

/** `trustAnchors` / `pinnedKeys` from `--trust-anchor FILE…` and `--pin PIN…`. */
export async function trustOf(values: { 'trust-anchor'?: string[]; pin?: string[] }): Promise<{
  trustAnchors?: string[];
  pinnedKeys?: string[];
}> {
  const files = values['trust-anchor'] ?? [];
  const trustAnchors = await Promise.all(
    files.map((file) =>
      readFile(file, 'utf8').catch((error: Error) => {
        throw new UsageError(`--trust-anchor ${file}: ${error.message}`);
      }),
    ),
  );
  return {
    ...(trustAnchors.length > 0 ? { trustAnchors } : {}),
    ...(values.pin && values.pin.length > 0 ? { pinnedKeys: values.pin } : {}),
  };
}
