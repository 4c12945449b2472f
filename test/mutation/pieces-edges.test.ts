/**
 * openPieces / decryptPieces where the property tests of test/protocol/pieces.test.ts rarely go
 * (mutation testing, issue 16): pieces longer than the long-segment bound (512 bytes) and than the
 * search bound (16 KiB) with other pieces after them, pieces that each authenticate but start in
 * the middle of a character, a session that has switched to the boundary finder for its short
 * opens, and the wording of the refusal.
 */
import { createCipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DecryptionFailedError } from '../../src/errors.js';
import { decryptPieces, MAX_SEARCHED_PIECE_BYTES, openPieces } from '../../src/protocol/pieces.js';
import { sessionFromKey } from '../../src/protocol/create-session.js';
import { loadAfresh } from '../helpers/load-afresh.js';
import { serverEncrypt } from '../helpers/server-crypto.js';

const KEY = new Uint8Array(32).map((_, i) => (i * 29 + 11) & 0xff);
const NONCE = new Uint8Array(12).map((_, i) => 200 - i);
const OTHER_KEY = new Uint8Array(32).fill(7);

/** `base64(AES-256-GCM(bytes) || tag)` of raw bytes, which need not be UTF-8. */
function sealBytes(bytes: Uint8Array, key = KEY): string {
  const cipher = createCipheriv('aes-256-gcm', key, NONCE, { authTagLength: 16 });
  return Buffer.concat([cipher.update(bytes), cipher.final(), cipher.getAuthTag()]).toString('base64');
}
const piece = (text: string): string => serverEncrypt(KEY, NONCE, text);
/** A text of `length` ASCII bytes whose piece is padded (its byte length + 16 is not a multiple of 3). */
const paddedText = (length: number, fill = 'p'): string => fill.repeat((length + 16) % 3 === 0 ? length + 1 : length);
/** A text of about `length` ASCII bytes whose piece is unpadded. */
const unpaddedText = (length: number, fill = 'u'): string => fill.repeat(length + ((3 - ((length + 16) % 3)) % 3));

function refusal(fn: () => unknown): DecryptionFailedError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(DecryptionFailedError);
    return error as DecryptionFailedError;
  }
  throw new Error('expected a DecryptionFailedError, got a result');
}

/** Every refusal tells the reader to throw the whole answer away. */
function expectDoNotTrust(error: DecryptionFailedError): void {
  expect(error.code).toBe('ERR_ARK_E2EE_DECRYPTION_FAILED');
  expect(error.message).toContain('do not trust any of it');
}

describe('a padded piece over 512 bytes followed by other pieces', () => {
  const session = sessionFromKey(KEY, NONCE);

  it('decrypts to every piece, not only the first', () => {
    const texts = [paddedText(600, 'a'), 'b', unpaddedText(40, 'c'), paddedText(700, 'd'), unpaddedText(20, 'e'), 'f'];
    const pieces = texts.map(piece);
    expect(pieces[0]).toMatch(/=$/);
    expect(pieces[3]).toMatch(/=$/);
    const content = pieces.join('');
    expect(openPieces(content, session)).toEqual(texts);
    expect(decryptPieces(content, session)).toBe(texts.join(''));
  });

  it('a long segment made of several pieces is searched when its single open fails', () => {
    // 30 unpadded pieces then a padded one: one segment of ~700 bytes that is not one ciphertext.
    const texts = [...Array.from({ length: 30 }, (_, i) => unpaddedText(2, String.fromCharCode(65 + (i % 26)))), 'end'];
    const content = texts.map(piece).join('');
    expect(content.indexOf('=')).toBeGreaterThan((512 * 4) / 3);
    expect(openPieces(content, session)).toEqual(texts);
  });

  it('a long padded piece under another key, after a good one, is refused where it starts', () => {
    const first = piece(paddedText(600, 'a'));
    const intruder = serverEncrypt(OTHER_KEY, NONCE, paddedText(600, 'x'));
    const error = refusal(() => decryptPieces(first + intruder + piece('tail'), session, { choiceIndex: 3 }));
    expectDoNotTrust(error);
    expect(error.offset).toBe(first.length);
    expect(error.choiceIndex).toBe(3);
    expect(error.message).toContain(`the content of choice 3 does not authenticate under this session key at character ${first.length}`);
  });
});

describe(`a piece longer than the search bound (${MAX_SEARCHED_PIECE_BYTES} bytes)`, () => {
  const session = sessionFromKey(KEY, NONCE);
  const longPadded = paddedText(MAX_SEARCHED_PIECE_BYTES + 100, 'L');
  const longUnpadded = unpaddedText(MAX_SEARCHED_PIECE_BYTES + 100, 'M');

  it('closing a segment, with short pieces before it and more segments after, is opened whole', () => {
    const texts = [unpaddedText(5, 'a'), unpaddedText(8, 'b'), longPadded, 'x', unpaddedText(2, 'y'), paddedText(3, 'z')];
    const pieces = texts.map(piece);
    expect(pieces[2]).toMatch(/=$/);
    const content = pieces.join('');
    expect(openPieces(content, session)).toEqual(texts);
    expect(decryptPieces(content, session)).toBe(texts.join(''));
  });

  it('unpadded, closing the content after short pieces, is opened whole', () => {
    const texts = ['x', unpaddedText(5, 'a'), unpaddedText(8, 'b'), longUnpadded];
    const content = texts.map(piece).join('');
    expect(openPieces(content, session)).toEqual(texts);
  });

  it('altered, is refused at its start and nothing of it is returned', () => {
    const head = piece(unpaddedText(5, 'a'));
    const sealed = piece(longPadded);
    const flipped = sealed.slice(0, 4000) + (sealed[4000] === 'A' ? 'B' : 'A') + sealed.slice(4001);
    const content = head + flipped + piece('x');
    const error = refusal(() => decryptPieces(content, session, { field: 'reasoning_content' }));
    expectDoNotTrust(error);
    expect(error.offset).toBe(head.length);
    expect(error.message).toContain(`the reasoning_content does not authenticate under this session key at character ${head.length}`);
    expect(openPieces(content, session)).toEqual({ offset: head.length, reason: 'not-authentic' });
  });
});

describe('pieces that authenticate but each start or end inside a character', () => {
  const session = sessionFromKey(KEY, NONCE);
  // "é" is c3 a9. The first piece ends with c3, the next one starts with a9: joined, the bytes
  // are valid UTF-8, but the service encrypts whole texts, so this is not an answer it made.
  const firstBytes = new Uint8Array([...Buffer.from(paddedText(600, 'a').slice(1)), 0xc3]);
  // Both are over 512 bytes, so each is opened whole (a short one would fail the tag search's own check).
  const secondBytes = new Uint8Array([0xa9, ...Buffer.from('tail'.repeat(150))]);

  it('are refused as not UTF-8, by the joined and the per-piece reading', () => {
    const first = sealBytes(firstBytes);
    expect(first).toMatch(/=$/);
    const content = first + sealBytes(secondBytes);
    for (const read of [() => decryptPieces(content, session), () => openPieces(content, session)]) {
      const error = refusal(read);
      expect(error.code).toBe('ERR_ARK_E2EE_DECRYPTION_FAILED');
      expect(error.message).toContain('is not valid UTF-8');
    }
  });

  it('short ones are no pieces at all: the tag search skips an end inside a character', () => {
    const content = sealBytes(new Uint8Array([0x61, 0xc3])) + sealBytes(new Uint8Array([0xa9, 0x62, 0x63]));
    const error = refusal(() => decryptPieces(content, session));
    expectDoNotTrust(error);
    expect(error.offset).toBe(0);
    expect(openPieces(content, session)).toEqual({ offset: 0, reason: 'not-authentic' });
  });

  it('a short piece that authenticates but is not UTF-8 is no piece: refused where it starts, not opened whole', () => {
    const first = piece(paddedText(20, 'a'));
    expect(first).toMatch(/=$/);
    const content = first + sealBytes(new Uint8Array([0xff, 0x61, 0x62]));
    expect(openPieces(content, session)).toEqual({ offset: first.length, reason: 'not-authentic' });
    const error = refusal(() => decryptPieces(content, session));
    expectDoNotTrust(error);
    expect(error.offset).toBe(first.length);
  });

  it('a piece that starts with a character is accepted after one that is whole text', () => {
    const content = sealBytes(new Uint8Array(Buffer.from(paddedText(600, 'a')))) + piece('é and more');
    expect(decryptPieces(content, session)).toBe(`${paddedText(600, 'a')}é and more`);
  });

  it('an empty piece between two pieces is accepted', () => {
    const content = piece(paddedText(600, 'a')) + piece('') + piece('é');
    expect(openPieces(content, session)).toEqual([paddedText(600, 'a'), '', 'é']);
    expect(decryptPieces(content, session)).toBe(`${paddedText(600, 'a')}é`);
  });
});

describe('a session that opens many short answers (its finder takes over)', () => {
  it('still refuses an altered one, and any under another key', () => {
    const session = sessionFromKey(KEY, NONCE);
    for (let i = 0; i < 40; i++) expect(decryptPieces(piece(`chunk ${i}`), session)).toBe(`chunk ${i}`);
    const good = piece('the next chunk');
    const altered = good.slice(0, 2) + (good[2] === 'A' ? 'B' : 'A') + good.slice(3);
    expect(altered).not.toBe(good);
    for (const bad of [altered, serverEncrypt(OTHER_KEY, NONCE, 'the next chunk')]) {
      const error = refusal(() => decryptPieces(bad, session, { choiceIndex: 0 }));
      expectDoNotTrust(error);
      expect(error.offset).toBe(0);
      expect(error.message).toContain('the content of choice 0 does not authenticate under this session key at character 0');
    }
    expect(decryptPieces(good, session)).toBe('the next chunk');
  });

  it('refuses a content that is not base64 after one that filled the quick decoder, never answering the earlier text', () => {
    const session = sessionFromKey(KEY, NONCE);
    for (let i = 0; i < 20; i++) decryptPieces(piece(`chunk ${i}`), session);
    // 239 bytes of text + 16 of tag = 255 bytes, 340 base64 characters: the most the quick path
    // decodes, leaving its buffer holding that whole ciphertext.
    const text = 't'.repeat(239);
    expect(decryptPieces(piece(text), session)).toBe(text);
    const notBase64 = `*${'A'.repeat(339)}`;
    const error = refusal(() => decryptPieces(notBase64, session));
    expectDoNotTrust(error);
    expect(error.message).toContain('the content is not canonical base64 at character 0');
  });

  it('opens a long answer after its finder was made for short ones', () => {
    const session = sessionFromKey(KEY, NONCE);
    for (let i = 0; i < 20; i++) decryptPieces(piece(`chunk ${i}`), session);
    // Over 64 KiB: the finder is remade with larger tables, and must still find every piece.
    const texts = Array.from({ length: 3000 }, (_, i) => unpaddedText(20, String.fromCharCode(97 + (i % 26))));
    texts.push(paddedText(4, '!'));
    const content = texts.map(piece).join('');
    expect(content.length).toBeGreaterThan(64 * 1024 * (4 / 3));
    expect(decryptPieces(content, session)).toBe(texts.join(''));
    expect(decryptPieces(piece('short again'), session)).toBe('short again');
  });
});

describe('the search bound, as the module sets it when it loads', () => {
  it('lets a content of several unpadded pieces be found piece by piece', async () => {
    const { decryptPieces: decrypt, MAX_SEARCHED_PIECE_BYTES: bound } = await loadAfresh(() => import('../../src/protocol/pieces.js'));
    expect(bound).toBe(16 * 1024);
    const texts = [unpaddedText(30, 'a'), unpaddedText(60, 'b'), unpaddedText(90, 'c')];
    expect(decrypt(texts.map(piece).join(''), sessionFromKey(KEY, NONCE))).toBe(texts.join(''));
  });
});

describe('the refusal names the field, the choice and what to do', () => {
  const session = sessionFromKey(KEY, NONCE);

  it('not base64', () => {
    const head = piece('one');
    const error = refusal(() => decryptPieces(`${head}%%%%`, session, { choiceIndex: 1, field: 'reasoning_content' }));
    expectDoNotTrust(error);
    expect(error.message).toBe(
      `the reasoning_content of choice 1 is not canonical base64 at character ${head.length}: the answer was ` +
        'altered, cut short, or encrypted for another request; do not trust any of it',
    );
    expect(error.offset).toBe(head.length);
    expect(error.choiceIndex).toBe(1);
  });

  it('not authentic, without a choice', () => {
    const error = refusal(() => decryptPieces(serverEncrypt(OTHER_KEY, NONCE, 'hello'), session));
    expectDoNotTrust(error);
    expect(error.message).toBe(
      'the content does not authenticate under this session key at character 0: the answer was altered, ' +
        'cut short, or encrypted for another request; do not trust any of it',
    );
    expect(error.choiceIndex).toBeUndefined();
  });
});
