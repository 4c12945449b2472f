/**
 * encryptionSwitch: what the `x-is-encrypted` header of a request asks for (protocol §6), read
 * the same way by every transport (fetch wrapper, undici interceptor, proxy) from every form of
 * headers that fetch or undici accept.
 *
 * The header is read as the server will see it: names compared without case, repeated headers
 * joined with ", " (RFC 9110 §5.3), each item trimmed and compared without case. Only three
 * answers exist: every item is `true` (encrypt), every item is `false` or there is no header
 * (send as it is), or anything else, which is refused. A request that says it wants encryption in
 * a way we cannot read must not go out in plain text, and must not go out with a header the
 * service might read as `true` while we did not encrypt.
 */
import { UnsupportedRequestError } from '../errors.js';
import { HEADER_IS_ENCRYPTED } from '../protocol/constants.js';

/** How a header value (or name) is given: fetch converts with String(); undici also takes bytes. */
function text(value: unknown): string {
  if (value instanceof Uint8Array) {
    // undici's raw headers are Buffers, read as latin1 (one character per byte).
    let out = '';
    for (const byte of value) out += String.fromCharCode(byte);
    return out;
  }
  return String(value);
}

/** The values of one header, every occurrence, in the order given. */
function valuesOf(headers: unknown, wanted: string): string[] {
  const found: string[] = [];
  const add = (name: unknown, value: unknown): void => {
    // undefined: undici leaves the header out (fetch would send "undefined", which is not true).
    if (value === undefined || text(name).toLowerCase() !== wanted) return;
    // An array value (undici records) is the header given once per item. null is a header
    // with an empty value to undici ("null" to fetch): present, and not true.
    const items = Array.isArray(value) ? (value as unknown[]) : [value];
    for (const item of items) found.push(item === null || item === undefined ? '' : text(item));
  };
  if (headers === undefined || headers === null) return found;
  if (typeof headers !== 'object') {
    throw unreadable(`headers given as a ${typeof headers}`);
  }
  if (Array.isArray(headers)) {
    const list = headers as unknown[];
    // An empty list has no list[0]: it is read as a flat array, with nothing in it.
    if (Array.isArray(list[0])) {
      // [[name, value], …]: fetch's and undici's pairs.
      for (const pair of list) {
        if (!Array.isArray(pair) || pair.length !== 2) throw unreadable('a header pair that is not [name, value]');
        add(pair[0], pair[1]);
      }
    } else {
      // ['name', 'value', …]: undici's flat raw array (strings or Buffers).
      if (list.length % 2 !== 0) throw unreadable('a flat header array of odd length');
      // i <= length (a mutant that survives) would add one call, add(undefined, undefined), which add ignores.
      for (let i = 0; i < list.length; i += 2) add(list[i], list[i + 1]);
    }
    return found;
  }
  const object = headers as {
    [Symbol.iterator]?: unknown;
    forEach?: unknown;
    entries?: unknown;
  };
  if (typeof object[Symbol.iterator] === 'function') {
    // Headers (global or undici's), Map, any iterable of pairs.
    for (const pair of headers as Iterable<unknown>) {
      if (!Array.isArray(pair) || pair.length !== 2) throw unreadable('an iterable of headers that yields something else than [name, value]');
      add(pair[0], pair[1]);
    }
    return found;
  }
  // Not iterable: fetch and undici read it as a record (own enumerable keys). A Headers-like
  // object (entries or forEach, no iterator) is read that way too, and through its own methods:
  // every view counts, so the two can only agree or be refused.
  for (const [name, value] of Object.entries(headers)) add(name, value);
  if (typeof object.entries === 'function') {
    for (const pair of (object.entries as () => Iterable<unknown>).call(headers)) {
      if (!Array.isArray(pair) || pair.length !== 2) throw unreadable('entries() that yield something else than [name, value]');
      add(pair[0], pair[1]);
    }
  } else if (typeof object.forEach === 'function') {
    (object.forEach as (f: (value: unknown, name: unknown) => void) => void).call(headers, (value, name) => add(name, value));
  }
  return found;
}

function unreadable(what: string): UnsupportedRequestError {
  return new UnsupportedRequestError(
    `the request headers cannot be read (${what}), so whether ${HEADER_IS_ENCRYPTED} asks for ` +
      'encryption is unknown; nothing was sent. Give headers as a Headers object, a record or [name, value] pairs',
  );
}

/**
 * The combined `x-is-encrypted` value of `headers` (items joined with ", "), or `undefined`
 * when the header is absent. Exported for the proxy's log and for tests.
 */
export function encryptionHeaderValue(headers: unknown): string | undefined {
  let values: string[];
  try {
    values = valuesOf(headers, HEADER_IS_ENCRYPTED);
  } catch (error) {
    if (error instanceof UnsupportedRequestError) throw error;
    throw unreadable((error as Error).message ?? String(error));
  }
  return values.length === 0 ? undefined : values.join(', ');
}

/**
 * Whether a request with these headers must be encrypted: `true` to encrypt, `false` to send it
 * as it is. Throws `UnsupportedRequestError` (and the caller must send nothing) when the header
 * is there but is neither only `true` nor only `false`: `1`, `yes`, `true, false`, empty…
 */
export function encryptionSwitch(headers: unknown): boolean {
  const value = encryptionHeaderValue(headers);
  if (value === undefined) return false;
  const items = value.split(',').map((item) => item.trim().toLowerCase());
  if (items.every((item) => item === 'true')) return true;
  if (items.every((item) => item === 'false')) return false;
  throw new UnsupportedRequestError(
    `${HEADER_IS_ENCRYPTED}: ${JSON.stringify(value.slice(0, 40))} is neither "true" nor "false", so whether this ` +
      'request must be encrypted is unclear; nothing was sent. Set the header once, to true or false',
  );
}
