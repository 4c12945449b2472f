/**
 * Contents made of several ciphertexts laid end to end (protocol §5): split by where the tags
 * authenticate, with linear work, and refused with a place when anything was altered or cut.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BackendName, CryptoBackend } from '../../src/crypto/backend.js';
// resolveBackend('node') needs the Node entry's platform, as every Node consumer has it.
import { resolveBackend } from '../../src/crypto/select.js';
import { DecryptionFailedError } from '../../src/errors.js';
import { decryptPieces, openPieces } from '../../src/protocol/pieces.js';
import { decryptChatCompletion } from '../../src/protocol/response.js';
import { sessionFromKey } from '../../src/protocol/create-session.js';
import { serverEncrypt } from '../helpers/server-crypto.js';

const BACKENDS: BackendName[] = ['node', 'noble'];
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const KEY = new Uint8Array(32).map((_, i) => (i * 31 + 5) & 0xff);
const NONCE = new Uint8Array(12).map((_, i) => i + 100);

const unit = fc.oneof(
  fc.constantFrom('a', 'Z', ' ', '\n', '=', '+', '/', '"'),
  fc.integer({ min: 0x4e00, max: 0x9fff }).map((c) => String.fromCodePoint(c)),
  fc.constantFrom('😀', '👍🏽', '🇯🇵', '👨‍👩‍👧', '\u{10ffff}'),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
);
const pieceText = fc.string({ unit, maxLength: 20 });
const utf8Length = (s: string): number => Buffer.byteLength(s, 'utf8');
/** Lengthened until its ciphertext has no padding: (UTF-8 length + 16) % 3 == 0. */
const unpadded = (s: string): string => (utf8Length(s) % 3 === 2 ? s : unpadded(`${s}a`));

interface Content {
  texts: string[];
  pieces: string[];
  content: string;
  /** Character offset where each piece starts, and the content's length last. */
  starts: number[];
}

function layOut(texts: string[]): Content {
  const pieces = texts.map((t) => serverEncrypt(KEY, NONCE, t));
  const starts = [0];
  for (const piece of pieces) starts.push(starts[starts.length - 1]! + piece.length);
  return { texts, pieces, content: pieces.join(''), starts };
}

const contents = (min: number, max: number) =>
  fc
    .array(fc.tuple(pieceText, fc.boolean()), { minLength: min, maxLength: max })
    .map((list) => layOut(list.map(([t, forceUnpadded]) => (forceUnpadded ? unpadded(t) : t))));

function completion(content: string, index = 0): { choices: { index: number; message: { role: string; content: string } }[] } {
  return { choices: [{ index, message: { role: 'assistant', content } }] };
}

/** Counts every AES call the backend makes (open, seal, single blocks). */
function countingBackend(): { backend: CryptoBackend; opens: () => number } {
  const base = resolveBackend('node');
  let opens = 0;
  const backend: CryptoBackend = {
    name: base.name,
    agree: (peer, scalar) => base.agree(peer, scalar),
    hkdf: (ikm, salt, info, length) => base.hkdf(ikm, salt, info, length),
    seal: (key, nonce, plain, aad) => {
      opens++;
      return base.seal(key, nonce, plain, aad);
    },
    open: (key, nonce, sealed, aad) => {
      opens++;
      return base.open(key, nonce, sealed, aad);
    },
    encryptBlock: (key, block) => {
      opens++;
      return base.encryptBlock(key, block);
    },
  };
  return { backend, opens: () => opens };
}

function failure(fn: () => unknown): DecryptionFailedError {
  let result: unknown;
  try {
    result = fn();
  } catch (error) {
    expect(error).toBeInstanceOf(DecryptionFailedError);
    return error as DecryptionFailedError;
  }
  throw new Error(`expected DecryptionFailedError, got ${JSON.stringify(result)}`);
}

describe.each(BACKENDS)('pieces laid end to end, %s backend', (backend) => {
  const session = sessionFromKey(KEY, NONCE, { backend });

  it('decrypt to the concatenation of their texts', () => {
    fc.assert(
      fc.property(contents(1, 60), ({ texts, content }) => {
        const joined = texts.join('');
        expect(decryptPieces(content, session)).toBe(joined);
        expect(decryptChatCompletion(completion(content), session).choices[0]?.message.content).toBe(joined);
        expect(openPieces(content, session)).toEqual(texts);
      }),
      { numRuns: backend === 'node' ? 150 : 60 },
    );
  });

  it('decrypt 2 000 unpadded pieces in a row', () => {
    const texts = fc.sample(pieceText.map(unpadded), { numRuns: 2000, seed: 42 });
    const { content } = layOut(texts);
    expect(content).not.toContain('=');
    expect(decryptPieces(content, session)).toBe(texts.join(''));
  });

  it('decrypt swapped pieces to the swapped texts (pieces are not bound to their order, §7)', () => {
    fc.assert(
      fc.property(contents(2, 12), fc.nat(), fc.nat(), ({ texts, pieces }, a, b) => {
        const i = a % pieces.length;
        const j = b % pieces.length;
        const order = pieces.map((_, k) => (k === i ? j : k === j ? i : k));
        const swapped = order.map((k) => pieces[k]!).join('');
        expect(decryptPieces(swapped, session)).toBe(order.map((k) => texts[k]!).join(''));
      }),
      { numRuns: 100 },
    );
  });
});

describe('linear work', () => {
  it.each([200, 2000])('makes at most 2N+2 AES calls for N = %i pieces', (n) => {
    const all = fc.sample(pieceText, { numRuns: n, seed: n });
    for (const texts of [all.map(unpadded), all, all.map((t, i) => (i % 3 === 0 ? t : unpadded(t)))]) {
      const { backend, opens } = countingBackend();
      const session = sessionFromKey(KEY, NONCE, { backend });
      expect(decryptPieces(layOut(texts).content, session)).toBe(texts.join(''));
      expect(opens()).toBeGreaterThan(0);
      expect(opens()).toBeLessThanOrEqual(2 * n + 2);
    }
  });
});

describe('tampering', () => {
  const session = sessionFromKey(KEY, NONCE);
  const replacement = fc.oneof(
    fc.constantFrom(...ALPHABET),
    fc.constantFrom('=', '-', '_', ' ', '\n', '.', '\0', 'é', '😀'),
  );

  it('any single changed character is refused, at or before the change', () => {
    fc.assert(
      fc.property(contents(1, 20), fc.nat(), replacement, fc.nat({ max: 9 }), ({ content, starts }, at, ch, choice) => {
        const position = at % content.length;
        fc.pre(content[position] !== ch);
        const altered = content.slice(0, position) + ch + content.slice(position + 1);
        const body = {
          id: 'x',
          choices: [
            { index: 100, message: { role: 'assistant', content } },
            { index: choice, finish_reason: 'stop', message: { role: 'assistant', content: altered } },
          ],
        };
        const error = failure(() => decryptChatCompletion(body, session));
        expect(error.code).toBe('ERR_ARK_E2EE_DECRYPTION_FAILED');
        expect(error.choiceIndex).toBe(choice);
        expect(error.offset).toBeGreaterThanOrEqual(0);
        expect(error.offset).toBeLessThanOrEqual(position);
        expect(error.message).toContain(`choice ${choice}`);
        if (ALPHABET.includes(ch) && ALPHABET.includes(content[position]!)) {
          // Still base64 here: the failing piece is the changed one, or its whole segment
          // (the run of pieces since the last `=`) when its last quantum became non-canonical.
          const piece = starts.filter((s) => s <= position).length - 1;
          let segment = piece;
          while (segment > 0 && !content.slice(0, starts[segment]).endsWith('=')) segment--;
          expect([starts[piece], starts[segment]]).toContain(error.offset);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('a content cut short is refused, unless it was cut exactly between pieces', () => {
    fc.assert(
      fc.property(contents(1, 20), fc.integer({ min: 1, max: 30 }), ({ texts, content, starts }, cut) => {
        fc.pre(cut < content.length);
        const kept = content.length - cut;
        const whole = starts.indexOf(kept);
        if (whole !== -1) {
          expect(decryptPieces(content.slice(0, kept), session)).toBe(texts.slice(0, whole).join(''));
          return;
        }
        const error = failure(() => decryptChatCompletion(completion(content.slice(0, kept), 4), session));
        expect(error.choiceIndex).toBe(4);
        expect(error.offset).toBeLessThanOrEqual(kept);
      }),
      { numRuns: 300 },
    );
  });

  it('a piece under another key, or one cut out of the middle, is refused', () => {
    const other = serverEncrypt(new Uint8Array(32), NONCE, 'intruder');
    const { content, starts } = layOut(['one', 'two', 'three'].map(unpadded));
    expect(content).not.toContain('=');
    const error = failure(() => decryptPieces(content.slice(0, starts[1]) + other + content.slice(starts[1]), session));
    expect(error.offset).toBe(starts[1]);
    const head = content.slice(0, starts[1]! + 4) + content.slice(starts[2]!);
    expect(failure(() => decryptPieces(head, session)).offset).toBe(starts[1]);
  });
});

describe('a session whose finder has taken over (the stream case) gives what a new session gives', () => {
  /** The plaintext, or the refusal's message, offset and choice. */
  function outcome(content: string, session: ReturnType<typeof sessionFromKey>): unknown {
    try {
      return decryptPieces(content, session, { choiceIndex: 2, field: 'content' });
    } catch (error) {
      expect(error).toBeInstanceOf(DecryptionFailedError);
      const { message, offset, choiceIndex } = error as DecryptionFailedError;
      return { message, offset, choiceIndex };
    }
  }
  const altered = (content: string, at: number, ch: string): string => {
    const i = at % content.length;
    return content.slice(0, i) + ch + content.slice(i + 1);
  };
  const anyContent = fc.oneof(
    contents(1, 1).map((c) => c.content),
    contents(1, 4).map((c) => c.content),
    fc.tuple(contents(1, 2), fc.nat(), fc.constantFrom(...`${ALPHABET}=*é`)).map(([c, at, ch]) => altered(c.content, at, ch)),
    fc.tuple(contents(1, 1), fc.integer({ min: 1, max: 8 })).map(([c, cut]) => c.content.slice(0, Math.max(0, c.content.length - cut))),
    // Long single ciphertexts: past what the finder opens, the backend's.
    fc.string({ unit: 'grapheme', minLength: 200, maxLength: 300 }).map((t) => serverEncrypt(KEY, NONCE, t)),
    fc.string({ unit: fc.constantFrom(...ALPHABET), minLength: 24, maxLength: 40 }),
  );

  it('for any content: the same text, or the same refusal at the same place', () => {
    const warm = sessionFromKey(KEY, NONCE);
    for (let i = 0; i < 8; i++) expect(decryptPieces(serverEncrypt(KEY, NONCE, `warm ${i}`), warm)).toBe(`warm ${i}`);
    fc.assert(
      fc.property(anyContent, (content) => {
        fc.pre(content !== '');
        expect(outcome(content, warm)).toEqual(outcome(content, sessionFromKey(KEY, NONCE)));
      }),
      { numRuns: 400 },
    );
  });
});
