/**
 * What a certificate's origin (the base URL it was fetched from) means for where it may be kept
 * (protocol §1, "The cache, as the official SDKs leave it"):
 *
 * - `isLoopback`: a server on this machine (the mock, a test double) makes a new certificate each
 *   time it starts; with the default cache folder its certificates are kept in memory only.
 * - `sharesSdkLayout`: only the official service's default base URL uses the SDKs' own file
 *   `<cacheDir>/<model>.pem`, shared with the Python, Go and Java SDKs in both directions.
 * - `originFolderName`: every other origin gets a folder of its own, named by an injective,
 *   file-system-safe encoding of its base URL, so one origin's certificate never serves another.
 */

/** The base URL the official SDKs default to; its certificates live in the SDKs' own layout. */
export const OFFICIAL_BASE_URL = 'https://ark.cn-beijing.volces.com/api/v3';

/**
 * Whether `baseUrl` (scheme, host, port and path, as `chatBaseUrl` gives it) is the official
 * default. Other regions (ark.cn-shanghai.volces.com, ark.ap-southeast.bytepluses.com, …) are
 * not: the SDKs' files carry no origin, and a model id names a different certificate in each
 * region, so a file there could only be trusted as the default region's.
 */
export function sharesSdkLayout(baseUrl: string): boolean {
  return baseUrl === OFFICIAL_BASE_URL;
}

/** Longest folder name kept readable; longer base URLs are named by their SHA-256. */
export const MAX_READABLE_FOLDER_NAME = 120;

/**
 * A folder name for `baseUrl` that is the same for one base URL and different for any two:
 * `[a-z0-9.-]` stay, every other UTF-8 byte becomes `_xx` (lower-case hex, `_` included), so
 * two different base URLs never meet, not even on a case-insensitive file system, and the name
 * never holds a separator, `:` or a leading dot. `undefined` when it would be too long (the
 * caller then names it by a hash, whose `sha256-` prefix no encoded name can start with: those
 * all start with a scheme).
 */
export function readableFolderName(baseUrl: string): string | undefined {
  let out = '';
  for (const byte of new TextEncoder().encode(baseUrl)) {
    const char = String.fromCharCode(byte);
    out += /[a-z0-9.-]/.test(char) ? char : `_${byte.toString(16).padStart(2, '0')}`;
    if (out.length > MAX_READABLE_FOLDER_NAME) return undefined;
  }
  return out.length > 0 && !out.startsWith('.') ? out : undefined;
}

/** Whether an IPv6 literal (without brackets, as WHATWG URL writes it) is a loopback address. */
function isLoopbackV6(address: string): boolean {
  if (address === '::1') return true;
  // IPv4-mapped (::ffff:a.b.c.d), which WHATWG URL writes as two hex groups: ::ffff:7f00:1.
  const mapped = /^::ffff:([0-9a-f]{1,4}):[0-9a-f]{1,4}$/.exec(address);
  return mapped !== null && parseInt(mapped[1]!, 16) >> 8 === 0x7f;
}

/**
 * Whether a URL's host is a loopback address of this machine: `localhost` and `*.localhost`
 * (RFC 6761, with or without a final dot), all of 127.0.0.0/8, `[::1]`, and the IPv4-mapped
 * forms (`[::ffff:127.0.0.1]`). The URL parser has already turned `127.1`, `0x7f.1`,
 * `2130706433` and `[0:0:0:0:0:0:0:1]` into their canonical forms, and the mapped
 * `[::ffff:127.0.0.1]` into `[::ffff:7f00:1]`. The unspecified addresses (`0.0.0.0`, `[::]`)
 * are not loopback: the proxy asks the same question of the address it binds, where they mean
 * every interface.
 */
export function isLoopback(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (host.startsWith('[') && host.endsWith(']')) return isLoopbackV6(host.slice(1, -1));
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
