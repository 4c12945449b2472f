/**
 * encryptChatRequestAsync's marker path (src/protocol/request-async.ts, issue 16): every text set
 * aside for WebCrypto comes back sealed exactly where encryptChatRequest puts its ciphertext, the
 * caller's objects are passed through untouched, the marker's tag is random and unpredictable, and
 * the internal-error checks refuse to send a body with a marker left in it or a text missing.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { BackendName } from '../../src/crypto/backend.js';
import { ArkE2EEError } from '../../src/errors.js';
import { encryptChatRequest, encryptChatRequestJson } from '../../src/protocol/request.js';
import { encryptChatRequestAsync, encryptChatRequestJsonAsync } from '../../src/protocol/request-async.js';
import { sessionFromKey } from '../../src/protocol/create-session.js';
import type { Session } from '../../src/protocol/session.js';
import { serverDecrypt } from '../helpers/server-crypto.js';

const KEY = new Uint8Array(32).map((_, i) => i * 11 + 1);
const NONCE = new Uint8Array(12).map((_, i) => i * 3 + 7);
const session = (backend: BackendName = 'noble'): Session => sessionFromKey(KEY, NONCE, { backend });
const quiet = { onWarning: () => {} };
const MIN = { ...quiet, webCryptoMinLength: 8 };
const LONG = 'a long text, sealed on WebCrypto';
const LONG_URL = `data:image/png;base64,${'QUJD'.repeat(10)}`;

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

/** Makes the marker tag predictable: byte i of the 16 random bytes is i. */
function predictableTag(): string {
  vi.spyOn(globalThis.crypto, 'getRandomValues').mockImplementation(<T extends ArrayBufferView | null>(array: T): T => {
    const bytes = array as unknown as Uint8Array;
    for (let i = 0; i < bytes.length; i++) bytes[i] = i;
    return array;
  });
  return `\u0000ark-e2ee-webcrypto-000102030405060708090a0b0c0d0e0f-`;
}

/** A video part (sent as it is) carrying an image_url whose url is `url`: a place nothing encrypts. */
const videoWith = (url: unknown): unknown => ({ type: 'video_url', video_url: { url: 'https://x.test/v.mp4' }, image_url: { url } });

type Out = { messages: { content: unknown }[] };

describe('texts set aside come back sealed where encryptChatRequest puts them', () => {
  const body = {
    model: 'm',
    messages: [
      { role: 'system', content: 'short' },
      { role: 'user', content: LONG },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'tiny' },
          { type: 'text', text: LONG.toUpperCase() },
          { type: 'image_url', image_url: { url: LONG_URL, detail: 'high' } },
          { type: 'image_url', image_url: { url: 'data:,x' } },
          { type: 'image_url', image_url: { url: 'https://x.test/cat.png' } },
          { type: 'video_url', video_url: { url: 'https://x.test/v.mp4' } },
        ],
      },
      { role: 'assistant', content: null },
    ],
  };

  it.each([
    ['encryptChatRequestAsync', encryptChatRequestAsync, encryptChatRequest],
    ['encryptChatRequestJsonAsync', encryptChatRequestJsonAsync, encryptChatRequestJson],
  ] as const)('%s: the same bytes as the sync path, each text decrypting to its plaintext', async (_name, async, sync) => {
    const spy = vi.spyOn(globalThis.crypto.subtle, 'encrypt');
    const snapshot = structuredClone(body);
    const s = session();
    const out = (await async(body, s, MIN)) as unknown as Out;
    expect(JSON.stringify(out)).toBe(JSON.stringify(sync(body, s, quiet)));
    expect(spy).toHaveBeenCalledTimes(3);
    expect(body).toEqual(snapshot);
    expect(serverDecrypt(KEY, NONCE, out.messages[0]!.content as string)).toBe('short');
    expect(serverDecrypt(KEY, NONCE, out.messages[1]!.content as string)).toBe(LONG);
    const parts = out.messages[2]!.content as { text?: string; image_url?: { url: string; detail?: string } }[];
    expect(serverDecrypt(KEY, NONCE, parts[0]!.text!)).toBe('tiny');
    expect(serverDecrypt(KEY, NONCE, parts[1]!.text!)).toBe(LONG.toUpperCase());
    expect(serverDecrypt(KEY, NONCE, parts[2]!.image_url!.url)).toBe(LONG_URL);
    expect(parts[2]!.image_url!.detail).toBe('high');
    expect(serverDecrypt(KEY, NONCE, parts[3]!.image_url!.url)).toBe('data:,x');
    expect(parts[4]).toEqual({ type: 'image_url', image_url: { url: 'https://x.test/cat.png' } });
    expect(out.messages[3]).toEqual({ role: 'assistant', content: null });
  });

  it('passes the caller’s own parts (an http image, a video) through as the same objects', async () => {
    const image = { type: 'image_url', image_url: { url: 'https://x.test/cat.png' } };
    const video = videoWith('https://x.test/poster.png');
    const videoNull = { type: 'video_url', video_url: { url: 'https://x.test/v.mp4' }, image_url: null };
    const input = { model: 'm', messages: [{ role: 'user', content: [image, { type: 'text', text: LONG }, video, videoNull] }] };
    const s = session();
    const expected = encryptChatRequestJson(input, s, quiet) as Out;
    const out = (await encryptChatRequestJsonAsync(input, s, MIN)) as Out;
    expect(out).toEqual(expected);
    const parts = out.messages[0]!.content as unknown[];
    expect(parts[0]).toBe(image);
    expect(parts[2]).toBe(video);
    expect(parts[3]).toBe(videoNull);
    expect(serverDecrypt(KEY, NONCE, (parts[1] as { text: string }).text)).toBe(LONG);
  });

  it('reads a message the sync path passed through as it is no second time', async () => {
    // A content getter answering null, then a list with a null part: the sync path keeps the
    // message (content null); the marker pass must keep it too, whatever it answers now.
    let reads = 0;
    const message = {
      role: 'user',
      get content(): unknown {
        reads++;
        return reads === 1 ? null : [null, 'x'];
      },
    };
    const input = { model: 'm', messages: [message, { role: 'user', content: LONG }] };
    const out = (await encryptChatRequestJsonAsync(input, session(), MIN)) as Out;
    expect(out.messages[0]).toBe(message);
    expect(serverDecrypt(KEY, NONCE, out.messages[1]!.content as string)).toBe(LONG);
  });

  it('with no text large enough, returns the sync result without walking it again', async () => {
    let reads = 0;
    const message = {
      role: 'user',
      get content(): unknown {
        reads++;
        return null;
      },
    };
    const spy = vi.spyOn(globalThis.crypto.subtle, 'encrypt');
    const out = (await encryptChatRequestJsonAsync({ model: 'm', messages: [message, { role: 'user', content: 'short' }] }, session(), MIN)) as Out;
    expect(reads).toBe(1);
    expect(out.messages[0]).toBe(message);
    expect(spy).not.toHaveBeenCalled();
  });
});

describe('where WebCrypto is not used, or refuses', () => {
  const body = { model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: LONG }, { type: 'text', text: 'hi' }] }, { role: 'user', content: LONG_URL }] };

  it('a backend named node never calls crypto.subtle', async () => {
    const spy = vi.spyOn(globalThis.crypto.subtle, 'encrypt');
    const s = session('node');
    const out = await encryptChatRequestAsync(body, s, MIN);
    expect(spy).not.toHaveBeenCalled();
    expect(JSON.stringify(out)).toBe(JSON.stringify(encryptChatRequest(body, s, quiet)));
  });

  it('a runtime without crypto.subtle seals synchronously: the same bytes', async () => {
    const s = session();
    const expected = JSON.stringify(encryptChatRequest(body, s, quiet));
    vi.stubGlobal('crypto', { getRandomValues: (b: Uint8Array) => b });
    expect(JSON.stringify(await encryptChatRequestAsync(body, s, MIN))).toBe(expected);
  });

  it('WebCrypto refusing falls back to the same bytes', async () => {
    const spy = vi.spyOn(globalThis.crypto.subtle, 'encrypt').mockRejectedValue(new DOMException('no', 'OperationError'));
    const s = session();
    const out = (await encryptChatRequestAsync(body, s, MIN)) as unknown as Out;
    expect(spy).toHaveBeenCalledTimes(2);
    expect(JSON.stringify(out)).toBe(JSON.stringify(encryptChatRequest(body, s, quiet)));
    expect(serverDecrypt(KEY, NONCE, out.messages[1]!.content as string)).toBe(LONG_URL);
  });
});

describe('the marker tag and the internal-error checks', () => {
  it('takes 16 fresh random bytes, two hex digits each, so no caller text is a marker', async () => {
    predictableTag();
    // What the tag would be if it were not random bytes, not two digits a byte, or not joined as they are.
    const guesses = [
      '\u0000ark-e2ee-webcrypto-undefined-0',
      '\u0000ark-e2ee-webcrypto--0',
      '\u0000ark-e2ee-webcrypto-0123456789abcdef-0',
      `\u0000ark-e2ee-webcrypto-${Array.from({ length: 16 }, (_, i) => i.toString(16).padStart(2, 'Stryker was here!')).join('')}-0`,
      `\u0000ark-e2ee-webcrypto-${Array.from({ length: 16 }, (_, i) => i.toString(16).padStart(2, '0')).join('Stryker was here!')}-0`,
    ];
    const input = { model: 'm', messages: [{ role: 'user', content: LONG }, { role: 'user', content: guesses.map(videoWith) }] };
    const s = session();
    const out = (await encryptChatRequestJsonAsync(input, s, MIN)) as Out;
    expect(out).toEqual(encryptChatRequestJson(input, s, quiet));
    expect((out.messages[1]!.content as { image_url: { url: string } }[]).map((p) => p.image_url.url)).toEqual(guesses);
  });

  it('a marker with no text behind it is an ArkE2EEError, nothing sent', async () => {
    const prefix = predictableTag();
    const input = { model: 'm', messages: [{ role: 'user', content: LONG }, { role: 'user', content: [videoWith(`${prefix}7`)] }] };
    const error = await encryptChatRequestJsonAsync(input, session(), MIN).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArkE2EEError);
    expect((error as Error).message).toBe('internal error: an unknown marker in the request; nothing was sent');
  });

  it('a count of texts put back that is not the count set aside is an ArkE2EEError, nothing sent', async () => {
    const prefix = predictableTag();
    // The video's url reads as marker 0 too: two replacements for one text set aside.
    const input = { model: 'm', messages: [{ role: 'user', content: LONG }, { role: 'user', content: [videoWith(`${prefix}0`)] }] };
    const error = await encryptChatRequestJsonAsync(input, session(), MIN).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArkE2EEError);
    expect((error as Error).message).toBe('internal error: 1 texts were set aside for WebCrypto but 2 put back; nothing was sent');
  });
});
