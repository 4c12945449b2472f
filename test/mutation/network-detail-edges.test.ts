/**
 * Edges of turning a network failure into a message that keeps the low-level code: which codes
 * count as system codes, how far the cause chain is walked, and when the error is left alone.
 */
import { describe, expect, it } from 'vitest';
import { networkDetail, withNetworkDetail } from '../../src/transport/network-detail.js';

/** A fetch-like failure: `fetch failed` with the system error as its cause. */
function fetchFailed(cause: unknown): Error {
  return new Error('fetch failed', { cause });
}

function systemError(code: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { code, ...extra };
}

/** Runs `withNetworkDetail` over an http that throws `thrown`; returns what came out. */
async function thrownThrough(thrown: unknown, signal: AbortSignal = new AbortController().signal): Promise<unknown> {
  const http = withNetworkDetail(() => Promise.reject(thrown));
  try {
    await http({ url: 'https://cert.example/v1/cert', headers: {}, body: '{}', signal });
  } catch (error) {
    return error;
  }
  throw new Error('the wrapped http resolved');
}

describe('which codes are system codes', () => {
  it('takes a plain E code and an undici UND_ERR_ code', () => {
    expect(networkDetail(fetchFailed(systemError('ECONNRESET')))).toBe('ECONNRESET');
    expect(networkDetail(fetchFailed(systemError('UND_ERR_SOCKET')))).toBe('UND_ERR_SOCKET');
    expect(networkDetail(fetchFailed(systemError('UND_ERR_CONNECT_TIMEOUT')))).toBe('UND_ERR_CONNECT_TIMEOUT');
  });

  it('ignores a lowercase, prefixed, suffixed or non-string code', () => {
    for (const code of ['econnreset', 'my_ECONNRESET', 'ECONNRESET-later', 'UND_ERR_socket', 'ERR_ARK_E2EE_X']) {
      // The message does not name the code, so a code taken as a system code would show instead.
      expect(networkDetail(fetchFailed(systemError(code, { message: 'refused' }))), code).toBe('refused');
    }
    // An array stringifies to its one element, but is not a code (and has no startsWith).
    expect(networkDetail(fetchFailed(systemError(['ECONNRESET'], { message: 'listed' })))).toBe('listed');
    expect(networkDetail(fetchFailed(systemError(42, { message: 'numbered' })))).toBe('numbered');
  });
});

describe('the detail of one system error', () => {
  it('keeps a message that already names the code', () => {
    const cause = systemError('ECONNREFUSED', { message: 'connect ECONNREFUSED 127.0.0.1:18999', address: '127.0.0.1', port: 18999 });
    expect(networkDetail(fetchFailed(cause))).toBe('connect ECONNREFUSED 127.0.0.1:18999');
  });

  it('names the code alone when there is no message and no address', () => {
    expect(networkDetail(fetchFailed(systemError('EPIPE')))).toBe('EPIPE');
  });

  it('names the address and the port, or the address alone without a port', () => {
    expect(networkDetail(fetchFailed(systemError('ECONNREFUSED', { address: '::1', port: 443 })))).toBe('ECONNREFUSED ::1:443');
    expect(networkDetail(fetchFailed(systemError('ECONNREFUSED', { address: '::1' })))).toBe('ECONNREFUSED ::1');
    expect(networkDetail(fetchFailed(systemError('ECONNREFUSED', { address: '::1', port: '443' })))).toBe('ECONNREFUSED ::1');
  });

  it('prefers the first inner error of an AggregateError-like failure', () => {
    const aggregate = systemError('ECONNREFUSED', {
      message: '',
      errors: [systemError('ECONNREFUSED', { message: 'connect ECONNREFUSED ::1:443' }), systemError('ETIMEDOUT')],
    });
    expect(networkDetail(fetchFailed(aggregate))).toBe('connect ECONNREFUSED ::1:443');
  });

  it('falls back to the outer code when the first inner entry is not an object', () => {
    const withNull = systemError('ECONNREFUSED', { errors: [null] });
    expect(networkDetail(fetchFailed(withNull))).toBe('ECONNREFUSED');
    const withFunction = systemError('ECONNREFUSED', { errors: [Object.assign(() => undefined, { code: 'EHOSTUNREACH' })] });
    expect(networkDetail(fetchFailed(withFunction))).toBe('ECONNREFUSED');
    const withCodeless = systemError('ECONNREFUSED', { address: '10.0.0.1', errors: [{ message: 'no code' }] });
    expect(networkDetail(fetchFailed(withCodeless))).toBe('ECONNREFUSED 10.0.0.1');
  });
});

describe('the walk down the cause chain', () => {
  /** `levels` errors deep, the last one holding `last` as its cause. */
  function chain(levels: number, last: unknown): unknown {
    let current = last;
    for (let level = levels - 1; level >= 0; level -= 1) current = new Error(`level ${level}`, { cause: current });
    return current;
  }

  it('finds a system error at depth 7 but not at depth 8', () => {
    expect(networkDetail(chain(7, systemError('ECONNRESET')))).toBe('ECONNRESET');
    // At depth 8 the walk has stopped: the detail is the last message it saw (depth 7).
    expect(networkDetail(chain(8, systemError('ECONNRESET')))).toBe('level 7');
  });

  it('gives nothing for an error without a cause', () => {
    expect(networkDetail(new Error('fetch failed'))).toBeUndefined();
    expect(networkDetail('fetch failed')).toBeUndefined();
  });

  it('gives the innermost non-empty message when no code is found', () => {
    const error = fetchFailed(new Error('bad port', { cause: { message: '' } }));
    expect(networkDetail(error)).toBe('bad port');
  });

  it('passes over a deeper cause whose message is missing or not a string', () => {
    // A cause without a message (or with a number for one) does not hide the message above it.
    expect(networkDetail(fetchFailed(new Error('bad port', { cause: { reason: 'no message' } })))).toBe('bad port');
    expect(networkDetail(fetchFailed(new Error('bad port', { cause: { message: 42 } })))).toBe('bad port');
    expect(networkDetail(fetchFailed({ message: 42 }))).toBeUndefined();
  });
});

describe('withNetworkDetail', () => {
  it('adds the detail to the message and keeps the original as cause', async () => {
    const original = fetchFailed(systemError('ENOTFOUND', { message: 'getaddrinfo ENOTFOUND cert.example' }));
    const error = await thrownThrough(original);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe('fetch failed (getaddrinfo ENOTFOUND cert.example)');
    expect((error as Error).cause).toBe(original);
  });

  it('leaves an aborted request’s error as it is', async () => {
    const controller = new AbortController();
    controller.abort();
    const original = fetchFailed(systemError('ECONNRESET'));
    expect(await thrownThrough(original, controller.signal)).toBe(original);
  });

  it('leaves a thrown non-Error as it is, even with a system code', async () => {
    const thrown = { message: 'not an Error', code: 'ECONNRESET' };
    expect(await thrownThrough(thrown)).toBe(thrown);
  });

  it('leaves an error with no detail as it is', async () => {
    const original = new Error('fetch failed');
    expect(await thrownThrough(original)).toBe(original);
  });

  it('does not repeat a detail the message already has', async () => {
    const original = new Error('connect ECONNREFUSED 127.0.0.1:1', { cause: systemError('ECONNREFUSED', { address: '127.0.0.1', port: 1 }) });
    expect(await thrownThrough(original)).toBe(original);
  });
});
