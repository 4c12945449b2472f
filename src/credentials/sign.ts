/**
 * Volcengine's OpenAPI request signature (HMAC-SHA256), as the official SDKs' signer computes it
 * (docs/protocol.md §10 has the steps). Pure: no I/O, no clock (the date is an argument), runs on
 * any runtime (@noble/hashes).
 *
 * Where the official signers differ, this one follows the Python SDK's (the reference), except
 * that header values are trimmed, as the Go SDK does and as fetch sends them (a value with
 * surrounding spaces cannot reach the server as the Python signer signed it), and names are
 * taken case-insensitively.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { InvalidOptionError } from '../errors.js';

export const SIGNATURE_ALGORITHM = 'HMAC-SHA256';

export interface AccessKeyCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** An STS session token, sent (and signed) as `X-Security-Token`. */
  sessionToken?: string | undefined;
}

export interface OpenApiRequestToSign {
  method: string;
  /** Origin and path, without a query: `https://open.volcengineapi.com/`. */
  url: string;
  /** The query parameters (`Action`, `Version`…); sent exactly as signed. */
  query: Readonly<Record<string, string>>;
  /** Headers to send besides those the signer adds; `Host` is taken from `url`. */
  headers: Readonly<Record<string, string>>;
  /** The body, exactly as it will be sent (UTF-8); `''` for none. */
  body: string;
}

export interface SigningContext {
  credentials: AccessKeyCredentials;
  region: string;
  service: string;
  date: Date;
}

export interface SignedOpenApiRequest {
  /** `url` with the canonical query string: what to send. */
  url: string;
  /** The headers to send: the caller's, plus X-Date, X-Content-Sha256, Authorization (no Host). */
  headers: Record<string, string>;
  canonicalRequest: string;
  stringToSign: string;
  signature: string;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Printable ASCII and tab: what every HTTP stack sends unchanged.
const HEADER_VALUE = /^[\t\x20-\x7e]*$/;
const UNRESERVED = /[A-Za-z0-9\-_.~]/;

/** `20261201T063514Z`: the X-Date form of a date (UTC, whole seconds). */
export function signingTimestamp(date: Date): string {
  if (!Number.isFinite(date.getTime())) throw new InvalidOptionError('the signing date is not a valid date');
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
}

/** RFC 3986 percent-encoding of UTF-8, everything but unreserved characters (`-_.~`) escaped. */
export function percentEncode(text: string): string {
  if (!text.isWellFormed()) throw new InvalidOptionError('a query parameter holds a lone UTF-16 surrogate, which has no UTF-8 form');
  let out = '';
  for (const char of text) {
    if (UNRESERVED.test(char)) {
      out += char;
      continue;
    }
    for (const byte of utf8ToBytes(char)) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Encoded `key=value` pairs joined by `&`, sorted by encoded key, then encoded value. */
export function canonicalQuery(query: Readonly<Record<string, string>>): string {
  const pairs = Object.entries(query).map(([key, value]) => [percentEncode(key), percentEncode(String(value))] as const);
  // Code-unit order of ASCII strings is byte order, which is what the SDKs sort by.
  const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  pairs.sort((a, b) => compare(a[0], b[0]) || compare(a[1], b[1]));
  return pairs.map(([key, value]) => `${key}=${value}`).join('&');
}

/** The Host the server sees, as the SDKs sign it: the default ports 80 and 443 left out. */
export function signedHost(url: URL): string {
  return url.host.replace(/:(80|443)$/, '');
}

function isSigned(lowerName: string): boolean {
  return lowerName === 'content-type' || lowerName === 'content-md5' || lowerName === 'host' || lowerName.startsWith('x-');
}

function hmacSha256(key: Uint8Array, text: string): Uint8Array {
  return hmac(sha256, key, utf8ToBytes(text));
}

/** The signing key: HMAC chain of the secret over date, region, service and `request`. */
export function signingKey(secretAccessKey: string, date: string, region: string, service: string): Uint8Array {
  let key = hmacSha256(utf8ToBytes(secretAccessKey), date);
  for (const part of [region, service, 'request']) key = hmacSha256(key, part);
  return key;
}

export function sha256Hex(text: string): string {
  return bytesToHex(sha256(utf8ToBytes(text)));
}

/**
 * The canonical request over the headers named in `signedNames` (lowercase, sorted). Shared by
 * the signer and by a server that checks a signature (the mock).
 */
export function canonicalRequest(parts: {
  method: string;
  path: string;
  query: string;
  headers: ReadonlyMap<string, string>;
  signedNames: readonly string[];
  bodyHash: string;
}): string {
  const lines = parts.signedNames.map((name) => `${name}:${parts.headers.get(name) ?? ''}\n`).join('');
  return [parts.method, parts.path || '/', parts.query, lines, parts.signedNames.join(';'), parts.bodyHash].join('\n');
}

/** The string to sign and its signature under `key`. */
export function signatureOf(canonical: string, timestamp: string, scope: string, key: Uint8Array): { stringToSign: string; signature: string } {
  const stringToSign = [SIGNATURE_ALGORITHM, timestamp, scope, sha256Hex(canonical)].join('\n');
  return { stringToSign, signature: bytesToHex(hmacSha256(key, stringToSign)) };
}

/** Signs one OpenAPI request. Throws `TypeError` for a request that cannot be sent as signed. */
export function signOpenApiRequest(request: OpenApiRequestToSign, context: SigningContext): SignedOpenApiRequest {
  const { credentials, region, service } = context;
  const target = new URL(request.url);
  if (target.search !== '' || target.hash !== '') throw new InvalidOptionError('give the query in `query`, not in the URL');
  const method = request.method.toUpperCase();
  const timestamp = signingTimestamp(context.date);
  const bodyHash = sha256Hex(request.body);

  const headers: Record<string, string> = {};
  const canonical = new Map<string, string>([['host', signedHost(target)]]);
  const add = (name: string, value: string): void => {
    const lower = name.toLowerCase();
    if (!TOKEN.test(name)) throw new InvalidOptionError(`"${name}" is not a valid header name`);
    if (!HEADER_VALUE.test(value)) throw new InvalidOptionError(`the value of header ${name} has a character outside printable ASCII`);
    if (lower === 'host' || lower === 'authorization') return; // the URL's host; the signature's own
    if (Object.keys(headers).some((known) => known.toLowerCase() === lower)) {
      throw new InvalidOptionError(`header ${name} is given twice (names are case-insensitive)`);
    }
    headers[name] = value.trim();
    if (isSigned(lower)) canonical.set(lower, value.trim());
  };
  for (const [name, value] of Object.entries(request.headers)) add(name, value);
  add('X-Date', timestamp);
  add('X-Content-Sha256', bodyHash);
  if (credentials.sessionToken) add('X-Security-Token', credentials.sessionToken);

  const signedNames = [...canonical.keys()].sort();
  const query = canonicalQuery(request.query);
  const canonicalText = canonicalRequest({ method, path: target.pathname, query, headers: canonical, signedNames, bodyHash });
  const day = timestamp.slice(0, 8);
  const scope = `${day}/${region}/${service}/request`;
  const key = signingKey(credentials.secretAccessKey, day, region, service);
  const { stringToSign, signature } = signatureOf(canonicalText, timestamp, scope, key);
  headers.Authorization =
    `${SIGNATURE_ALGORITHM} Credential=${credentials.accessKeyId}/${scope}, ` +
    `SignedHeaders=${signedNames.join(';')}, Signature=${signature}`;
  return {
    url: `${target.origin}${target.pathname}${query === '' ? '' : `?${query}`}`,
    headers,
    canonicalRequest: canonicalText,
    stringToSign,
    signature,
  };
}
