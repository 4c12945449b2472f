/**
 * The undici interceptor's parts on their own (issue 16): reading dispatch options and bodies
 * (dispatch-options.ts), the rule for requests sent again (resend.ts) and the caller's
 * controller (controller.ts). test/transport/undici.test.ts drives them through undici; here each
 * refusal is read for its code and its advice, and each shape of input is tried.
 */
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { describe, expect, it } from 'vitest';
import { ResendRefusedError, UnsupportedRequestError } from '../../src/errors.js';
import { ForwardingController } from '../../src/transport/undici/controller.js';
import {
  collectBody,
  discardBody,
  dispatchUrl,
  forwardedHeaders,
  headerPairs,
  responseHeader,
} from '../../src/transport/undici/dispatch-options.js';
import { ResendRule, sentTwiceError } from '../../src/transport/undici/resend.js';

type Opts = Dispatcher.DispatchOptions;
const opts = (extra: Partial<Record<keyof Opts, unknown>>): Opts => ({ method: 'POST', path: '/api/v3/chat/completions', ...extra }) as Opts;
const signal = new AbortController().signal;

describe('headerPairs', () => {
  it('reads a record, dropping null and undefined values, joining arrays', () => {
    expect(headerPairs({ a: '1', b: ['2', '3'], c: undefined, d: null, e: 4 } as unknown as Opts['headers'])).toEqual([
      ['a', '1'], ['b', '2, 3'], ['e', '4'],
    ]);
  });

  it('reads [name, value] pairs, a flat array (an odd last name ignored) and any iterable of pairs', () => {
    expect(headerPairs([['a', '1'], ['b', '2']] as unknown as Opts['headers'])).toEqual([['a', '1'], ['b', '2']]);
    expect(headerPairs(['a', '1', 'b', '2', 'c'] as unknown as Opts['headers'])).toEqual([['a', '1'], ['b', '2']]);
    const iterable = new Map<string, string>([['x', '1'], ['y', '2']]);
    expect(headerPairs(iterable as unknown as Opts['headers'])).toEqual([['x', '1'], ['y', '2']]);
    const mixed = { *[Symbol.iterator]() { yield 'not a pair'; yield ['z', '3']; } };
    expect(headerPairs(mixed as unknown as Opts['headers'])).toEqual([['z', '3']]);
  });

  it('no headers are no pairs', () => {
    expect(headerPairs(undefined)).toEqual([]);
    expect(headerPairs(null)).toEqual([]);
    expect(headerPairs([] as unknown as Opts['headers'])).toEqual([]);
  });
});

describe('responseHeader and forwardedHeaders', () => {
  it('finds a header in any letter case, and joins an array', () => {
    expect(responseHeader({ 'Content-Type': 'a', 'X-Multi': ['1', '2'] }, 'content-type')).toBe('a');
    expect(responseHeader({ 'Content-Type': 'a', 'X-Multi': ['1', '2'] }, 'X-MULTI')).toBe('1, 2');
    expect(responseHeader({ 'content-type': 'a' }, 'content-length')).toBeUndefined();
    // A missing header is missing, even next to one literally named "undefined".
    expect(responseHeader({ undefined: 'x' }, 'content-type')).toBeUndefined();
  });

  it('drops length, encoding and transfer encoding in any letter case, keeps the rest', () => {
    expect(forwardedHeaders({ 'Content-Length': '9', 'content-encoding': 'gzip', 'Transfer-Encoding': 'chunked', 'x-a': '1', 'Content-Type': 't' })).toEqual({
      'x-a': '1', 'Content-Type': 't',
    });
  });
});

describe('dispatchUrl', () => {
  it.each([undefined, null, ''])('origin %j is refused: nothing was sent, use an Agent', (origin) => {
    const error = (() => {
      try {
        return dispatchUrl(opts({ origin }));
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(UnsupportedRequestError);
    expect(error).toMatchObject({ code: 'ERR_ARK_E2EE_UNSUPPORTED_REQUEST' });
    expect((error as Error).message).toBe(
      'a request with x-is-encrypted: true has no origin in its dispatch options, so its URL is unknown; ' +
        'nothing was sent. Use an Agent (or pass origin) with the encryption interceptor',
    );
  });

  it('joins the origin (only its origin) and the path, adding the slash a path may lack', () => {
    expect(dispatchUrl(opts({ origin: 'https://ark.test:443/ignored?q=1' }))).toBe('https://ark.test/api/v3/chat/completions');
    expect(dispatchUrl(opts({ origin: new URL('http://ark.test:8080'), path: 'v3/chat/completions?x=1' }))).toBe('http://ark.test:8080/v3/chat/completions?x=1');
  });
});

describe('collectBody', () => {
  const refusal = async (body: unknown): Promise<Error> => {
    const error = await collectBody(body, signal).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(UnsupportedRequestError);
    expect(error).toMatchObject({ code: 'ERR_ARK_E2EE_UNSUPPORTED_REQUEST' });
    return error as Error;
  };
  const text = (bytes: string | Uint8Array): string => (typeof bytes === 'string' ? `text:${bytes}` : `bytes:${new TextDecoder().decode(bytes)}`);

  it('no body is the empty text; text stays text', async () => {
    expect(await collectBody(undefined, signal)).toBe('');
    expect(await collectBody(null, signal)).toBe('');
    expect(await collectBody('{"a":1}', signal)).toBe('{"a":1}');
  });

  it('bytes of every kind come back as those bytes, a view at its offset', async () => {
    const all = new TextEncoder().encode('xx{"a":1}');
    expect(text(await collectBody(all, signal))).toBe('bytes:xx{"a":1}');
    expect(text(await collectBody(new DataView(all.buffer, 2), signal))).toBe('bytes:{"a":1}');
    expect(text(await collectBody(Buffer.from('{"b":2}'), signal))).toBe('bytes:{"b":2}');
    expect(text(await collectBody(all.buffer.slice(2), signal))).toBe('bytes:{"a":1}');
    expect(text(await collectBody(new Blob(['{"c":', '3}']), signal))).toBe('bytes:{"c":3}');
    expect(text(await collectBody(new File(['{"d":4}'], 'chat.json'), signal))).toBe('bytes:{"d":4}');
  });

  it('chunks of text are joined as text (a surrogate pair cut between them stays whole)', async () => {
    const pair = '\u{1F510}';
    async function* pieces() {
      yield `{"a":"${pair[0]!}`;
      yield `${pair[1]!}"}`;
    }
    expect(await collectBody(pieces(), signal)).toBe(`{"a":"${pair}"}`);
    expect(await collectBody(['{"a"', ':1}'], signal)).toBe('{"a":1}');
  });

  it('chunks of mixed kinds are joined as bytes, in order', async () => {
    expect(text(await collectBody(Readable.from([Buffer.from('{"a"'), ':', new Uint8Array([0x31]), new TextEncoder().encode('}').buffer]), signal))).toBe('bytes:{"a":1}');
  });

  it('stops reading once the signal aborts', async () => {
    const controller = new AbortController();
    let read = 0;
    async function* endless() {
      for (;;) {
        read++;
        if (read === 3) controller.abort();
        yield 'x';
      }
    }
    expect(await collectBody(endless(), controller.signal)).toBe('xx');
  });

  it('refuses a number, a FormData, an object that is no body, and chunks that are not bytes or text', async () => {
    expect((await refusal(7)).message).toBe(
      'a request with x-is-encrypted: true has a number body; the encryption protocol needs the JSON chat completion as a ' +
        'string, bytes or a stream of them. Nothing was sent',
    );
    expect((await refusal(new FormData())).message).toContain('has a FormData body');
    expect((await refusal(new (class Thing {})())).message).toContain('has a Thing body');
    expect((await refusal(Object.create(null))).message).toContain('has a object body');
    // Only a Blob or File is read through arrayBuffer(): not a Response, not a look-alike without it.
    expect((await refusal(new Response('{"a":1}'))).message).toContain('has a Response body');
    expect((await refusal({ [Symbol.toStringTag]: 'Blob' })).message).toContain('has a Object body');
    expect((await refusal([1, 2])).message).toBe(
      'the body of a request with x-is-encrypted: true yields chunks that are not bytes or text; nothing was sent',
    );
  });
});

describe('discardBody', () => {
  it('destroys a stream not yet destroyed, and leaves anything else alone', () => {
    const stream = Readable.from(['x']);
    discardBody(stream);
    expect(stream.destroyed).toBe(true);
    let calls = 0;
    discardBody({ destroyed: true, destroy: () => calls++ });
    discardBody({ destroy: 'no' });
    discardBody(null);
    discardBody('text');
    expect(calls).toBe(0);
  });
});

describe('ResendRule', () => {
  const handler = (): Dispatcher.DispatchHandler => ({});
  const at = (origin: unknown, headers?: unknown): Opts => opts({ origin, headers });

  it('the first dispatch of a handler is not a resend; the second is', () => {
    const rule = new ResendRule(true);
    const h = handler();
    expect(rule.check(at('https://a.test'), h)).toEqual({ again: false });
    expect(rule.check(at('https://a.test/other'), h)).toEqual({ again: true });
    expect(rule.check(at('https://a.test'), handler())).toEqual({ again: false });
  });

  it('a handler whose first origin cannot be read is not remembered', () => {
    const rule = new ResendRule(true);
    const h = handler();
    expect(rule.check(at('not a url'), h)).toEqual({ again: false });
    expect(rule.check(at('https://a.test'), h)).toEqual({ again: false });
  });

  it('a Range request sent again is refused: the rest of the answer cannot be had, retry the whole', () => {
    for (const headers of [{ Range: 'bytes=10-' }, ['range', 'bytes=10-']]) {
      const rule = new ResendRule(false);
      const h = handler();
      rule.check(at('https://a.test'), h);
      const { again, refusal } = rule.check(at('https://a.test', headers), h);
      expect(again).toBe(true);
      expect(refusal).toBeInstanceOf(ResendRefusedError);
      expect(refusal).toMatchObject({ code: 'ERR_ARK_E2EE_RESEND_REFUSED' });
      expect(refusal!.message).toBe(
        'the answer to an encrypted request was cut half-way and a retry asked for the rest of it (a Range request); ' +
          'each attempt has its own session and answer, so the rest cannot be had and nothing was sent. Retry the whole request instead',
      );
    }
  });

  it('another origin is refused when the origin chooses the certificate, with both origins and the fix', () => {
    const rule = new ResendRule(true);
    const h = handler();
    rule.check(at('https://a.test'), h);
    const { again, refusal } = rule.check(at('https://b.test'), h);
    expect(again).toBe(true);
    expect(refusal).toMatchObject({ code: 'ERR_ARK_E2EE_RESEND_REFUSED' });
    expect(refusal!.message).toBe(
      'an encrypted request to https://a.test was sent on to another origin (https://b.test), most likely by a redirect; ' +
        'that origin would choose the certificate the request is encrypted to, so nothing was sent there. Set pinnedKeys ' +
        'or trustAnchors (or give the certificate) to allow other origins whose certificate passes them',
    );
    expect(rule.check(at('not a url'), h).refusal!.message).toContain('sent on to another origin (unknown)');
  });

  it('another origin is allowed when the options fix the certificate', () => {
    const rule = new ResendRule(false);
    const h = handler();
    rule.check(at('https://a.test'), h);
    expect(rule.check(at('https://b.test', { 'x-request-id': '1', accept: 'text/event-stream' }), h)).toEqual({ again: true });
  });

  it('a lower layer sending again is told to compose retries after arkEncryption', () => {
    expect(sentTwiceError()).toMatchObject({ code: 'ERR_ARK_E2EE_RESEND_REFUSED' });
    expect(sentTwiceError().message).toBe(
      'an interceptor composed below arkEncryption tried to send an encrypted request again (same session token and ' +
        'ciphertext); it was stopped before anything went out. Compose retry and redirect interceptors after ' +
        'arkEncryption (compose(arkEncryption(), retry)): each attempt then gets a fresh session',
    );
  });
});

describe('ForwardingController', () => {
  const inner = () => {
    const calls: string[] = [];
    const controller = {
      abort: (reason: Error) => calls.push(`abort:${reason.message}`),
      pause: () => calls.push('pause'),
      resume: () => calls.push('resume'),
    } as unknown as Dispatcher.DispatchController;
    return { controller, calls };
  };

  it('before the request is under way, abort stops the preparation once, with the reason', () => {
    const reasons: Error[] = [];
    const outer = new ForwardingController((reason) => reasons.push(reason));
    expect([outer.aborted, outer.paused, outer.reason]).toEqual([false, false, null]);
    const reason = new Error('stop');
    outer.abort(reason);
    outer.abort(new Error('again'));
    expect(reasons).toEqual([reason]);
    expect([outer.aborted, outer.reason]).toEqual([true, reason]);
  });

  it('an abort without a reason gets one', () => {
    const reasons: Error[] = [];
    const outer = new ForwardingController((reason) => reasons.push(reason));
    outer.abort(undefined as unknown as Error);
    expect(reasons.map((r) => r.message)).toEqual(['The request was aborted']);
  });

  it('once attached, drives the request under way; resume only after a pause', () => {
    const outer = new ForwardingController(() => expect.unreachable());
    const { controller, calls } = inner();
    outer.attach(controller);
    outer.attach(controller);
    outer.attach(null);
    outer.resume();
    outer.pause();
    expect(outer.paused).toBe(true);
    outer.resume();
    outer.resume();
    expect(outer.paused).toBe(false);
    outer.abort(new Error('stop'));
    expect(calls).toEqual(['pause', 'resume', 'abort:stop']);
  });

  it('a pause and resume before attaching reach nothing, and leave the request unpaused', () => {
    const outer = new ForwardingController(() => {});
    outer.pause();
    outer.resume();
    const { controller, calls } = inner();
    outer.attach(controller);
    expect(calls).toEqual([]);
  });

  it('an abort or pause made before attaching is passed on at attach', () => {
    const aborted = new ForwardingController(() => {});
    aborted.abort(new Error('early'));
    const first = inner();
    aborted.attach(first.controller);
    expect(first.calls).toEqual(['abort:early']);
    const paused = new ForwardingController(() => {});
    paused.pause();
    const second = inner();
    paused.attach(second.controller);
    paused.attach(second.controller);
    expect(second.calls).toEqual(['pause']);
    const other = inner();
    paused.attach(other.controller);
    expect(other.calls).toEqual(['pause']);
  });
});
