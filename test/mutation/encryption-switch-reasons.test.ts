/**
 * encryptionSwitch's refusals say why the headers could not be read, and the forms it reads are
 * read exactly (issue 16): each case fails if the check or the reading it exercises is changed.
 */
import { describe, expect, it } from 'vitest';
import { UnsupportedRequestError } from '../../src/errors.js';
import { encryptionHeaderValue, encryptionSwitch } from '../../src/transport/encryption-switch.js';

function refusalOf(headers: unknown): string {
  let error: unknown;
  try {
    encryptionSwitch(headers);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(UnsupportedRequestError);
  expect(error).toMatchObject({ code: 'ERR_ARK_E2EE_UNSUPPORTED_REQUEST' });
  return (error as Error).message;
}

const unreadable = (what: string): string =>
  `the request headers cannot be read (${what}), so whether x-is-encrypted asks for encryption is unknown; ` +
  'nothing was sent. Give headers as a Headers object, a record or [name, value] pairs';

describe('headers that cannot be read: the reason, and what to do', () => {
  it.each([
    ['a string', 'x-is-encrypted: true', 'headers given as a string'],
    ['a number', 1, 'headers given as a number'],
    ['a function', () => ({ 'x-is-encrypted': 'true' }), 'headers given as a function'],
    ['a pair of one', [['x-is-encrypted']], 'a header pair that is not [name, value]'],
    ['a pair of three', [['x-is-encrypted', 'true', 'x']], 'a header pair that is not [name, value]'],
    ['pairs, then a string', [['a', 'b'], 'x-is-encrypted'], 'a header pair that is not [name, value]'],
    ['a flat array of odd length', ['a', 'b', 'x-is-encrypted'], 'a flat header array of odd length'],
    ['an iterable of strings', new Set(['x-is-encrypted', 'true']), 'an iterable of headers that yields something else than [name, value]'],
    ['an iterable of triples', new Set([['x-is-encrypted', 'true', 'x']]), 'an iterable of headers that yields something else than [name, value]'],
    ['entries() of strings', { entries: () => ['x-is-encrypted'] }, 'entries() that yield something else than [name, value]'],
    ['entries() of triples', { entries: () => [['x-is-encrypted', 'true', 'x']] }, 'entries() that yield something else than [name, value]'],
    ['a reading that throws', { entries: () => { throw new Error('no entries today'); } }, 'no entries today'],
  ])('%s', (_name, headers, why) => {
    expect(refusalOf(headers)).toBe(unreadable(why));
  });

  it('a reading that throws something without a message is still refused', () => {
    expect(refusalOf({ entries: () => { throw 'plain'; } })).toBe(unreadable('plain'));
  });
});

describe('the forms that are read', () => {
  it('no header: undefined, null, an empty array, an empty record', () => {
    for (const headers of [undefined, null, [], {}, new Map(), new Headers()]) {
      expect(encryptionHeaderValue(headers)).toBeUndefined();
      expect(encryptionSwitch(headers)).toBe(false);
    }
  });

  it('bytes are read as latin1, one character per byte, in names and values', () => {
    expect(encryptionHeaderValue([[new TextEncoder().encode('X-IS-ENCRYPTED'), new Uint8Array([0x74, 0x72, 0x75, 0x65])]])).toBe('true');
    expect(encryptionHeaderValue([Buffer.from('x-is-encrypted'), Buffer.from([0x74, 0xe9])])).toBe('t\u00e9');
    expect(encryptionSwitch([Buffer.from('x-is-encrypted'), Buffer.from(' TRUE ')])).toBe(true);
  });

  it('an array value is the header given once per item; null in it is an empty value', () => {
    expect(encryptionHeaderValue({ 'x-is-encrypted': ['true', 'true'] })).toBe('true, true');
    expect(encryptionHeaderValue({ 'x-is-encrypted': ['true', null] })).toBe('true, ');
    expect(encryptionHeaderValue({ 'x-is-encrypted': null })).toBe('');
    expect(encryptionHeaderValue({ 'x-is-encrypted': ['true', undefined] })).toBe('true, ');
    expect(encryptionHeaderValue([['x-is-encrypted', undefined], ['x-is-encrypted', 'false']])).toBe('false');
  });

  it('a Headers-like object with both entries() and forEach is read through entries() only', () => {
    let forEachCalled = false;
    const headers = {
      entries: () => [['x-is-encrypted', 'true']],
      forEach: () => { forEachCalled = true; },
    };
    expect(encryptionHeaderValue(headers)).toBe('true');
    expect(forEachCalled).toBe(false);
  });

  it('the refusal of a contradictory value quotes at most 40 characters of it', () => {
    const value = `true, ${'f'.repeat(100)}`;
    const message = refusalOf({ 'x-is-encrypted': value });
    expect(message).toBe(
      `x-is-encrypted: ${JSON.stringify(value.slice(0, 40))} is neither "true" nor "false", so whether this request must be ` +
        'encrypted is unclear; nothing was sent. Set the header once, to true or false',
    );
  });
});
