/**
 * The request body as text and back (src/protocol/request-body.ts, issue 16): the decoder is
 * strict (bad bytes refused, a leading BOM dropped as TextDecoder does by default), isPlainJson's
 * fast path keeps only what JSON.stringify would send unchanged, and every refusal says what was
 * wrong with its code and its words. Also utf8DecodeShort's fast path (utf8.ts) and LruMap's
 * refusal (lru-map.ts), small neighbours of the same survivors list.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encryptChatRequest } from '../../src/protocol/request.js';
import { asSentJson, parseChatRequestBody, requestBodyText, stringifyRequestBody } from '../../src/protocol/request-body.js';
import { sessionFromKey } from '../../src/protocol/create-session.js';
import { LruMap } from '../../src/protocol/lru-map.js';
import { utf8DecodeShort } from '../../src/protocol/utf8.js';
import { serverDecrypt } from '../helpers/server-crypto.js';

afterEach(() => {
  vi.restoreAllMocks();
});

function thrown(run: () => unknown): { code?: string; message: string; messageIndex?: number } {
  try {
    run();
  } catch (error) {
    return error as { code?: string; message: string };
  }
  throw new Error('expected a refusal');
}

const engineMessage = (value: unknown): string => {
  try {
    JSON.stringify(value);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('JSON.stringify accepted it');
};

describe('requestBodyText', () => {
  it('refuses bytes that are not UTF-8 (a fatal decoder), with the code and what to do', () => {
    for (const bytes of [[0x7b, 0xff, 0x7d], [0x7b, 0xc3, 0x28, 0x7d], [0x7b, 0xed, 0xa0, 0x80, 0x7d], [0x7b, 0xe2, 0x82]]) {
      const error = thrown(() => requestBodyText(new Uint8Array(bytes)));
      expect(error.code).toBe('ERR_ARK_E2EE_UNSUPPORTED_REQUEST');
      expect(error.message).toBe(
        'the body of a request with encryption on is not valid UTF-8; it would reach the service ' +
          'changed, so nothing was sent. Send the JSON body encoded as UTF-8',
      );
    }
  });

  it('drops a leading byte order mark (the decoder does not ignoreBOM), keeps one further on', () => {
    expect(requestBodyText(new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d]))).toBe('{}');
    expect(requestBodyText(new Uint8Array([0x7b, 0xef, 0xbb, 0xbf, 0x7d]))).toBe('{\ufeff}');
    expect(requestBodyText(new Uint8Array([0xc3, 0xa9]))).toBe('é');
  });
});

describe('stringifyRequestBody and asSentJson refusals', () => {
  const refusedBoth = (value: unknown, message: string): void => {
    for (const run of [() => stringifyRequestBody(value), () => asSentJson(value)]) {
      const error = thrown(run);
      expect(error.code).toBe('ERR_ARK_E2EE_UNSUPPORTED_CONTENT');
      expect(error.messageIndex).toBe(-1);
      expect(error.message).toBe(message);
    }
  };

  it('too deep', () => {
    let deep: unknown = 0;
    for (let i = 0; i < 200_000; i++) deep = { d: deep };
    refusedBoth(deep, 'the request body is nested too deeply to serialise; nothing was sent');
  });

  it('a BigInt, a cycle: the engine’s own reason in brackets', () => {
    const bigint = { model: 'm', n: 1n };
    refusedBoth(bigint, `the request body cannot be serialised as JSON (${engineMessage(bigint)}); nothing was sent`);
    expect(engineMessage(bigint)).toMatch(/BigInt/);
    const cycle: Record<string, unknown> = { model: 'm' };
    cycle.self = cycle;
    refusedBoth(cycle, `the request body cannot be serialised as JSON (${engineMessage(cycle)}); nothing was sent`);
  });

  it('a body that serialises to nothing', () => {
    for (const value of [undefined, () => 1, Symbol('s'), { toJSON: () => undefined }]) {
      refusedBoth(value, 'the request body cannot be serialised as JSON (it serialises to nothing); nothing was sent');
    }
  });

  it('a JSON.parse that overflows the stack (a recursive parser, as in some engines) is the "too deep" refusal', () => {
    vi.spyOn(JSON, 'parse').mockImplementation(() => {
      throw new RangeError('Maximum call stack size exceeded');
    });
    const error = thrown(() => asSentJson({ toJSON: () => ({ model: 'm' }) }));
    expect(error.code).toBe('ERR_ARK_E2EE_UNSUPPORTED_CONTENT');
    expect(error.message).toBe('the request body is nested too deeply to serialise; nothing was sent');
    const parsed = thrown(() => parseChatRequestBody('{"model":"m","messages":[]}'));
    expect(parsed.code).toBe('ERR_ARK_E2EE_UNSUPPORTED_CONTENT');
    expect(parsed.message).toBe('the request body is nested too deeply to serialise; nothing was sent');
  });
});

describe('asSentJson: what is kept as it is and what is read through JSON.stringify', () => {
  /** asSentJson(value) is JSON.parse(JSON.stringify(value)), types and all. */
  const sentAsStringified = (value: unknown): unknown => {
    const sent = asSentJson(value);
    expect(sent).toStrictEqual(JSON.parse(JSON.stringify(value)));
    expect(JSON.stringify(sent)).toBe(JSON.stringify(value));
    return sent;
  };

  it('an array with a toJSON, an Array subclass: read through JSON.stringify', () => {
    const withToJson = Object.assign(['secret'], { toJSON: () => ['sent'] });
    expect(sentAsStringified({ a: withToJson })).toEqual({ a: ['sent'] });
    class List extends Array<unknown> {}
    const list = List.from([1, 2]);
    const sent = sentAsStringified({ a: list }) as { a: unknown };
    expect(Object.getPrototypeOf(sent.a)).toBe(Array.prototype);
  });

  it('an object with a toJSON, a class instance: read through JSON.stringify', () => {
    expect(sentAsStringified({ a: { toJSON: () => 'sent', secret: 'x' } })).toEqual({ a: 'sent' });
    class Box {
      inner = 1;
    }
    const sent = sentAsStringified({ a: new Box() }) as { a: unknown };
    expect(Object.getPrototypeOf(sent.a)).toBe(Object.prototype);
    expect(sentAsStringified(new Date(0))).toBe(new Date(0).toJSON());
    // A toJSON that Object.keys does not list is found all the same.
    const hidden = Object.defineProperty({ secret: 'x' }, 'toJSON', { value: () => 'sent', enumerable: false });
    expect(sentAsStringified({ a: hidden })).toEqual({ a: 'sent' });
    const hiddenArray = Object.defineProperty(['secret'], 'toJSON', { value: () => 'sent', enumerable: false });
    expect(sentAsStringified({ a: hiddenArray })).toEqual({ a: 'sent' });
  });

  it('a null-prototype object is plain JSON data: kept as it is, not copied', () => {
    const message = Object.assign(Object.create(null) as Record<string, unknown>, { role: 'user', content: 'x' });
    const body = { model: 'm', messages: [message] };
    expect(asSentJson(body)).toBe(body);
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { model: 'm' });
    expect(asSentJson(bare)).toBe(bare);
  });

  it('-0, NaN, ±Infinity: as JSON.stringify sends them (0 and null)', () => {
    expect(sentAsStringified({ a: -0, b: Number.NaN, c: Number.POSITIVE_INFINITY, d: Number.NEGATIVE_INFINITY, e: [-0] })).toStrictEqual({
      a: 0,
      b: null,
      c: null,
      d: null,
      e: [0],
    });
    expect(Object.is((asSentJson({ a: -0 }) as { a: number }).a, 0)).toBe(true);
  });

  it('undefined, function and symbol members dropped (null in arrays)', () => {
    expect(sentAsStringified({ u: undefined, f: () => 1, s: Symbol('s'), keep: 1 })).toStrictEqual({ keep: 1 });
    expect(sentAsStringified([undefined, () => 1, Symbol('s'), 2])).toStrictEqual([null, null, null, 2]);
  });

  it('plain data, with nested arrays and objects, is returned as the same object', () => {
    const body = { model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }] }], n: -1.5, ok: true, none: null };
    expect(asSentJson(body)).toBe(body);
  });

  it('what encryptChatRequest encrypts is what JSON.stringify sends', () => {
    const KEY = new Uint8Array(32).fill(3);
    const NONCE = new Uint8Array(12).fill(4);
    const body = { model: 'm', messages: [{ role: 'user', content: { toJSON: () => 'sent text' } }, Object.assign([], { toJSON: () => ({ role: 'user', content: 'from an array' }) })] };
    const out = encryptChatRequest(body, sessionFromKey(KEY, NONCE), { onWarning: () => {} }) as unknown as { messages: { content: string }[] };
    expect(serverDecrypt(KEY, NONCE, out.messages[0]!.content)).toBe('sent text');
    expect(serverDecrypt(KEY, NONCE, out.messages[1]!.content)).toBe('from an array');
  });
});

describe('parseChatRequestBody', () => {
  it.each(['', 'x', '{', '[]', 'null', '{"messages":[]}', '{"model":1,"messages":[]}', '{"model":"m","messages":{}}', '{"model":"m"}'])(
    '%j is refused with the code and what the body needs',
    (text) => {
      const error = thrown(() => parseChatRequestBody(text));
      expect(error.code).toBe('ERR_ARK_E2EE_UNSUPPORTED_REQUEST');
      expect(error.message).toBe(
        'a request with encryption on must have a JSON chat completion body with a string "model" ' + 'and a "messages" array; nothing was sent',
      );
    },
  );
});

describe('utf8DecodeShort (src/protocol/utf8.ts): short ASCII in JS, the rest through the strict decoder', () => {
  const ascii = (n: number): Uint8Array => new Uint8Array(n).map((_, i) => 0x61 + (i % 26));
  const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('latin1');
  /** Calls into the native decoder: the fast path is there to spare them for short ASCII. */
  const decoderCalls = (): (() => number) => {
    const spy = vi.spyOn(TextDecoder.prototype, 'decode');
    return () => spy.mock.calls.length;
  };

  it('up to 64 ASCII bytes are made without the decoder; from 65 on, and any byte ≥ 0x80, through it', () => {
    const calls = decoderCalls();
    expect(utf8DecodeShort(ascii(64))).toBe(text(ascii(64)));
    expect(utf8DecodeShort(ascii(1))).toBe('a');
    expect(utf8DecodeShort(new Uint8Array([0x7f, 0x00]))).toBe('\u007f\u0000');
    expect(calls()).toBe(0);
    expect(utf8DecodeShort(ascii(65))).toBe(text(ascii(65)));
    expect(calls()).toBe(1);
    const e = [0xc3, 0xa9];
    for (const bytes of [[...e, ...ascii(62)], [...ascii(62), ...e], [...ascii(30), ...e, ...ascii(30)], [...ascii(70), ...e]]) {
      expect(utf8DecodeShort(new Uint8Array(bytes))).toBe(new TextDecoder().decode(new Uint8Array(bytes)));
    }
    expect(calls()).toBe(1 + 4 + 4);
  });

  it('keeps a leading BOM (ignoreBOM) on the decoder path', () => {
    expect(utf8DecodeShort(new Uint8Array([0xef, 0xbb, 0xbf, 0x41]))).toBe('\ufeffA');
  });

  it('refuses bytes that are not UTF-8 on both paths, as a decryption failure', () => {
    for (const bytes of [[0x41, 0x80], [...ascii(63), 0xff], [0xc3], [...ascii(64), 0xc3, 0x28], [0xed, 0xa0, 0x80]]) {
      const error = thrown(() => utf8DecodeShort(new Uint8Array(bytes)));
      expect(error.code).toBe('ERR_ARK_E2EE_DECRYPTION_FAILED');
      expect(error.message).toBe('answer text authenticated but is not valid UTF-8; the service sent bytes the protocol does not allow');
    }
  });
});

describe('LruMap (src/protocol/lru-map.ts): its refusal names the option', () => {
  it.each([0, 1.5, -1, Number.NaN])('capacity %s', (capacity) => {
    for (const [name, run] of [
      ['capacity', () => new LruMap(capacity)],
      ['certificateCacheSize', () => new LruMap(capacity, 'certificateCacheSize')],
    ] as const) {
      const error = thrown(run);
      expect(error.code).toBe('ERR_ARK_E2EE_INVALID_OPTION');
      expect(error.message).toBe(`${name} must be a whole number ≥ 1, got ${capacity}`);
    }
  });
});
