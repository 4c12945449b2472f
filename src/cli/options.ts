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

/** A `--port` value: a whole number from 0 to 65535 (0: a free one). */
export function portOf(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) throw new UsageError(`--port must be a number from 0 to 65535, not "${text}"`);
  return port;
}

/** A `--pin` value: the base64 SHA-256 that `cert` and `serve` print (44 characters), `sha256/` allowed. */
function checkedPin(pin: string): string {
  const bare = pin.startsWith('sha256/') ? pin.slice('sha256/'.length) : pin;
  if (!/^[A-Za-z0-9+/]{43}=$/.test(bare) || Buffer.from(bare, 'base64').toString('base64') !== bare) {
    throw new UsageError(`--pin must be a base64 SHA-256 key pin (44 characters, as "ark-e2ee cert" prints it), not "${pin}"`);
  }
  return pin;
}

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
    ...(values.pin && values.pin.length > 0 ? { pinnedKeys: values.pin.map(checkedPin) } : {}),
  };
}
