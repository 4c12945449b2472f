/**
 * A failed fetch says only `fetch failed`; what went wrong (`connect ECONNREFUSED
 * 127.0.0.1:18999`, `getaddrinfo ENOTFOUND host`) is in its `cause`. An error message built from
 * the outer message alone loses it, so the certificate fetch adds it back.
 */
import type { CertificateHttp } from '../certificates/service.js';

interface SystemErrorLike {
  message?: unknown;
  code?: unknown;
  address?: unknown;
  port?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/** A system or undici error code (ECONNREFUSED, ENOTFOUND, UND_ERR_CONNECT_TIMEOUT…), not one of ours. */
function isSystemCode(code: unknown): code is string {
  return typeof code === 'string' && /^(?:E[A-Z0-9_]+|UND_ERR_[A-Z_]+)$/.test(code) && !code.startsWith('ERR_');
}

function describe(error: SystemErrorLike): string | undefined {
  if (!isSystemCode(error.code)) return undefined;
  if (typeof error.message === 'string' && error.message.includes(error.code)) return error.message;
  // A dual-stack connect fails as an AggregateError whose message is empty: name the address.
  const where = typeof error.address === 'string' ? ` ${error.address}${typeof error.port === 'number' ? `:${error.port}` : ''}` : '';
  const first = Array.isArray(error.errors) ? (error.errors[0] as SystemErrorLike | undefined) : undefined;
  const inner = first && typeof first === 'object' ? describe(first) : undefined;
  return inner ?? `${error.code}${where}`;
}

/**
 * The system error behind a failure (its code and address), looked for down the cause chain;
 * else the innermost cause's own message (fetch's `bad port`), when there is a cause.
 */
export function networkDetail(error: unknown): string | undefined {
  let current: unknown = error;
  let innermost: string | undefined;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth += 1) {
    const found = describe(current as SystemErrorLike);
    if (found !== undefined) return found;
    const message = (current as SystemErrorLike).message;
    if (depth > 0 && typeof message === 'string' && message !== '') innermost = message;
    current = (current as SystemErrorLike).cause;
  }
  return innermost;
}

/** `http` whose network failures carry their cause's code and address in their message. */
export function withNetworkDetail(http: CertificateHttp): CertificateHttp {
  return async (request) => {
    try {
      return await http(request);
    } catch (error) {
      if (request.signal.aborted || !(error instanceof Error)) throw error;
      const detail = networkDetail(error);
      if (detail === undefined || error.message.includes(detail)) throw error;
      throw new Error(`${error.message} (${detail})`, { cause: error });
    }
  };
}
