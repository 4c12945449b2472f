/**
 * encryptChatRequestAsync (src/protocol/request-async.ts): large texts sealed on WebCrypto where
 * the backend is noble, giving what encryptChatRequest gives, byte for byte: the vectors, random
 * requests, refusals, and when WebCrypto is missing or refuses.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { BackendName } from '../../src/crypto/backend.js';
import { webCryptoSealTextToBase64 } from '../../src/crypto/webcrypto-seal.js';
import { ArkE2EEError, UnsupportedContentError } from '../../src/errors.js';
import { encryptChatRequest, encryptChatRequestJson } from '../../src/protocol/request.js';
import {
  encryptChatRequestAsync,
  encryptChatRequestJsonAsync,
  WEBCRYPTO_MIN_TEXT_LENGTH,
} from '../../src/protocol/request-async.js';
import { sessionFromKey } from '../../src/protocol/create-session.js';
import type { Session } from '../../src/protocol/session.js';

const BACKENDS: BackendName[] = ['node', 'noble'];
const hexBytes = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, 'hex'));
const quiet = { onWarning: () => {} };

interface Case {
  name: string;
  key: string;
  nonce: string;
  request?: unknown;
  plaintext?: string;
  expect_request?: unknown;
  expect_ciphertext?: string;
  expect_error?: string;
}
const cases = (file: string): Case[] =>
  (JSON.parse(readFileSync(new URL(`../../vectors/${file}`, import.meta.url), 'utf8')) as { cases: Case[] }).cases;

function session(backend: BackendName, seed = 1): Session {
  const key = new Uint8Array(32).map((_, i) => (i * 7 + seed) & 0xff);
  const nonce = new Uint8Array(12).map((_, i) => (i * 13 + seed) & 0xff);
  return sessionFromKey(key, nonce, { backend });
}

/** Counts crypto.subtle.encrypt calls (real WebCrypto underneath). */
function spySubtle(): { calls: () => number } {
  const spy = vi.spyOn(globalThis.crypto.subtle, 'encrypt');
  return { calls: () => spy.mock.calls.length };
}

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

describe('webCryptoSealTextToBase64', () => {
  it.each(BACKENDS)('is the %s backend’s encryptText, for any text', async (backend) => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'grapheme', maxLength: 300 }), async (text) => {
        const s = session(backend);
        expect(await webCryptoSealTextToBase64(s.key, s.nonce, text)).toBe(s.encryptText(text));
      }),
      { numRuns: 60 },
    );
  });
});

describe.each(BACKENDS)('encryptChatRequestAsync on the %s backend', (backend) => {
  it('gives the vectors’ expected requests (every text through WebCrypto on noble)', async () => {
    const subtle = spySubtle();
    let checked = 0;
    for (const file of ['encrypt_request.json', 'extra_encrypt_request.json']) {
      for (const c of cases(file)) {
        const s = sessionFromKey(hexBytes(c.key), hexBytes(c.nonce), { backend });
        if (c.expect_error !== undefined) {
          await expect(encryptChatRequestAsync(c.request, s, { ...quiet, webCryptoMinLength: 0 }), c.name).rejects.toThrow(
            UnsupportedContentError,
          );
        } else {
          expect(await encryptChatRequestAsync(c.request, s, { ...quiet, webCryptoMinLength: 0 }), c.name).toEqual(c.expect_request);
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(20);
    if (backend === 'noble') expect(subtle.calls()).toBeGreaterThan(checked);
    else expect(subtle.calls()).toBe(0);
  });

  it('gives the encrypt_text vectors’ ciphertexts for texts sent as message content', async () => {
    for (const file of ['encrypt_text.json', 'extra_encrypt_text.json']) {
      for (const c of cases(file)) {
        const s = sessionFromKey(hexBytes(c.key), hexBytes(c.nonce), { backend });
        const request = { model: 'm', messages: [{ role: 'user', content: c.plaintext }] };
        const out = await encryptChatRequestAsync(request, s, { webCryptoMinLength: 0 });
        expect(out.messages[0]!.content, c.name).toBe(c.expect_ciphertext);
      }
    }
  });

  it('equals encryptChatRequest on random requests, large texts and small, without touching the input', async () => {
    const text = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.string({ minLength: 60, maxLength: 200 }));
    const part = fc.oneof(
      text.map((t) => ({ type: 'text', text: t })),
      text.map((t) => ({ type: 'image_url', image_url: { url: `data:image/png;base64,${t}`, detail: 'low' } })),
      fc.constant({ type: 'image_url', image_url: { url: 'https://example.test/cat.png' } }),
      fc.constant({ type: 'video_url', video_url: { url: 'https://example.test/v.mp4' } }),
    );
    const message = fc.record({
      role: fc.constantFrom('system', 'user', 'assistant'),
      content: fc.oneof(text, fc.array(part, { maxLength: 4 }), fc.constant(null)),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(message, { minLength: 1, maxLength: 5 }), fc.integer({ min: 0, max: 120 }), async (messages, min) => {
        const body = { model: 'm', temperature: 0.5, messages };
        const snapshot = structuredClone(body);
        const s = session(backend, min);
        const expected = encryptChatRequest(body, s, quiet);
        const got = await encryptChatRequestAsync(body, s, { ...quiet, webCryptoMinLength: min });
        expect(got).toEqual(expected);
        // The transports' variant (the body already parsed), likewise.
        const json = await encryptChatRequestJsonAsync(body, s, { ...quiet, webCryptoMinLength: min });
        expect(json).toEqual(encryptChatRequestJson(body, s, quiet));
        expect(body).toEqual(snapshot);
        expect(JSON.stringify(got)).not.toContain('\\u0000');
      }),
      { numRuns: 80 },
    );
  });

  it('refuses what encryptChatRequest refuses, with the same error, before any WebCrypto work', async () => {
    const subtle = spySubtle();
    const big = 'x'.repeat(WEBCRYPTO_MIN_TEXT_LENGTH);
    const bad = [
      { model: 'm', messages: [{ role: 'user', content: big }, { role: 'user', content: `${big}\uD800` }] },
      { model: 'm', messages: [{ role: 'user', content: big }, { role: 'user', content: [{ type: 'audio', data: 'x' }] }] },
      { model: 'm', messages: [{ role: 'user', content: 42 }] },
      { model: 'm' },
    ];
    for (const body of bad) {
      let syncError: unknown;
      try {
        encryptChatRequest(body, session(backend), quiet);
      } catch (error) {
        syncError = error;
      }
      expect(syncError).toBeInstanceOf(UnsupportedContentError);
      await expect(encryptChatRequestAsync(body, session(backend), quiet)).rejects.toThrow((syncError as Error).message);
    }
    expect(subtle.calls()).toBe(0);
  });
});

describe('encryptChatRequestAsync on the noble backend, WebCrypto aside', () => {
  const body = {
    model: 'm',
    messages: [
      { role: 'user', content: 'é'.repeat(WEBCRYPTO_MIN_TEXT_LENGTH) },
      { role: 'user', content: [{ type: 'image_url', image_url: { url: `data:image/png;base64,${'QUJD'.repeat(WEBCRYPTO_MIN_TEXT_LENGTH)}` } }] },
      { role: 'assistant', content: 'short' },
    ],
  };

  it('sends texts from WEBCRYPTO_MIN_TEXT_LENGTH on to WebCrypto, shorter ones not', async () => {
    const subtle = spySubtle();
    const s = session('noble');
    expect(await encryptChatRequestAsync(body, s)).toEqual(encryptChatRequest(body, s));
    expect(subtle.calls()).toBe(2);
  });

  it('without crypto.subtle, seals synchronously: same bytes', async () => {
    const s = session('noble');
    const expected = encryptChatRequest(body, s);
    vi.stubGlobal('crypto', { getRandomValues: (b: Uint8Array) => globalThis.crypto.getRandomValues(b) });
    expect(await encryptChatRequestAsync(body, s)).toEqual(expected);
  });

  it('when WebCrypto refuses, seals synchronously: same bytes, nothing in plain text', async () => {
    vi.spyOn(globalThis.crypto.subtle, 'encrypt').mockRejectedValue(new DOMException('no', 'OperationError'));
    const s = session('noble');
    const got = await encryptChatRequestAsync(body, s);
    expect(got).toEqual(encryptChatRequest(body, s));
    expect(JSON.stringify(got)).not.toContain('ééé');
  });

  it('an ArkE2EEError, not a request with a marker, if a text could not be put back', async () => {
    // A session whose encryptText is called twice for one text cannot happen with request.ts;
    // simulate a lost text: WebCrypto answering for fewer texts than were set aside.
    const s = session('noble');
    const spy = vi.spyOn(Promise, 'all').mockImplementationOnce(async () => []);
    await expect(encryptChatRequestAsync(body, s)).rejects.toThrow(ArkE2EEError);
    expect(spy).toHaveBeenCalled();
  });
});
