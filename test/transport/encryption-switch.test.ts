/**
 * encryptionSwitch: `x-is-encrypted` read from every header form fetch and undici accept, as the
 * server will see it. The oracle (`expected`) is written here from the rule in docs/protocol.md
 * §6: every item `true` encrypts, every item `false` or no header passes, anything else is refused.
 */
import fc from 'fast-check';
import { Headers as UndiciHeaders } from 'undici';
import { describe, expect, it } from 'vitest';
import { UnsupportedRequestError } from '../../src/errors.js';
import { encryptionHeaderValue, encryptionSwitch } from '../../src/transport/encryption-switch.js';
import { fuzzParameters } from '../fuzz/settings.js';
import { OwnHeaders, buildHeaders, expectedVerdict as expected, headerForms, switchEntries, type Verdict } from '../helpers/header-forms.js';

function verdict(headers: unknown): Verdict {
  try {
    return encryptionSwitch(headers) ? 'encrypt' : 'pass';
  } catch (error) {
    expect(error).toBeInstanceOf(UnsupportedRequestError);
    expect((error as UnsupportedRequestError).code).toBe('ERR_ARK_E2EE_UNSUPPORTED_REQUEST');
    return 'refuse';
  }
}

describe('encryptionSwitch: the forms of the issue', () => {
  const cases: [string, unknown, Verdict][] = [
    ['no headers', undefined, 'pass'],
    ['global Headers, true', new Headers({ 'X-Is-Encrypted': 'true' }), 'encrypt'],
    ["undici's own Headers", new UndiciHeaders({ 'x-is-encrypted': 'true' }), 'encrypt'],
    ['a Map', new Map([['x-is-encrypted', 'true']]), 'encrypt'],
    ['a record with a boolean', { 'x-is-encrypted': true }, 'encrypt'],
    ['a record with ["true"]', { 'x-is-encrypted': ['true'] }, 'encrypt'],
    ['a record with " true"', { 'x-is-encrypted': ' true' }, 'encrypt'],
    ['a record with TRUE', { 'x-is-encrypted': 'TRUE' }, 'encrypt'],
    ['a record with the number 1', { 'x-is-encrypted': 1 }, 'refuse'],
    ['pairs, twice true', [['x-is-encrypted', 'true'], ['X-IS-ENCRYPTED', 'true']], 'encrypt'],
    ['both letter cases in one record', { 'x-is-encrypted': 'true', 'X-Is-Encrypted': 'true' }, 'encrypt'],
    ['both letter cases, false then true', { 'x-is-encrypted': 'false', 'X-Is-Encrypted': 'true' }, 'refuse'],
    ['"true, true"', { 'x-is-encrypted': 'true, true' }, 'encrypt'],
    ['"false, true"', { 'x-is-encrypted': 'false, true' }, 'refuse'],
    ['"true, false"', { 'x-is-encrypted': 'true, false' }, 'refuse'],
    ['"false"', { 'x-is-encrypted': 'false' }, 'pass'],
    ['"false, false"', { 'x-is-encrypted': 'false, false' }, 'pass'],
    ['"yes"', { 'x-is-encrypted': 'yes' }, 'refuse'],
    ['"1"', { 'x-is-encrypted': '1' }, 'refuse'],
    ['empty', { 'x-is-encrypted': '' }, 'refuse'],
    ['"true,"', { 'x-is-encrypted': 'true,' }, 'refuse'],
    ['null (undici sends it empty)', { 'x-is-encrypted': null }, 'refuse'],
    ['undefined (left out)', { 'x-is-encrypted': undefined }, 'pass'],
    ['an undici flat array', ['content-type', 'application/json', 'x-is-encrypted', 'true'], 'encrypt'],
    ['an undici flat array of Buffers', [Buffer.from('X-Is-Encrypted'), Buffer.from('true')], 'encrypt'],
    ['an undici flat array, repeated', ['x-is-encrypted', 'true', 'x-is-encrypted', 'false'], 'refuse'],
    ['a flat array of odd length', ['x-is-encrypted'], 'refuse'],
    ['a pair of three', [['x-is-encrypted', 'true', 'x']], 'refuse'],
    ['a string', 'x-is-encrypted: true', 'refuse'],
    ['another header only', { 'x-is-encrypted-not': 'true', authorization: 'Bearer k' }, 'pass'],
  ];
  it.each(cases)('%s', (_name, headers, want) => {
    expect(verdict(headers)).toBe(want);
  });

  it('a Headers-like object is read through entries(), and with its own fields', () => {
    const own = new OwnHeaders();
    own.append('x-is-encrypted', 'true');
    expect(verdict(own)).toBe('encrypt');
    own.append('X-Is-Encrypted', 'false');
    expect(verdict(own)).toBe('refuse');
    // forEach only
    const viaForEach = { forEach: (f: (v: string, n: string) => void) => f('true', 'x-is-encrypted') };
    expect(verdict(viaForEach)).toBe('encrypt');
    // A record field and entries() that disagree: refused, whichever fetch would read.
    const both = Object.assign(new OwnHeaders(), { 'x-is-encrypted': 'false' });
    both.append('x-is-encrypted', 'true');
    expect(verdict(both)).toBe('refuse');
  });

  it('Headers.append twice is one combined value', () => {
    const headers = new Headers();
    headers.append('x-is-encrypted', 'true');
    headers.append('X-Is-Encrypted', 'true');
    expect(encryptionHeaderValue(headers)).toBe('true, true');
    expect(verdict(headers)).toBe('encrypt');
    headers.append('x-is-encrypted', 'false');
    expect(verdict(headers)).toBe('refuse');
  });

  it('headers whose reading throws are refused, not let through', () => {
    const hostile = {
      [Symbol.iterator]: function* () {
        yield ['x-is-encrypted', 'true'];
        throw new Error('boom');
      },
    };
    expect(verdict(hostile)).toBe('refuse');
    const noString = { 'x-is-encrypted': Object.create(null) as object };
    expect(verdict(noString)).toBe('refuse');
  });

  it('the refusal names the value, cut short, and says nothing was sent', () => {
    expect(() => encryptionSwitch({ 'x-is-encrypted': `yes${'x'.repeat(200)}` })).toThrow(/nothing was sent/);
    try {
      encryptionSwitch({ 'x-is-encrypted': `yes${'x'.repeat(200)}` });
    } catch (error) {
      expect((error as Error).message.length).toBeLessThan(300);
    }
  });
});

describe('encryptionSwitch: property', () => {
  it('every form gives the verdict of the rule', () => {
    fc.assert(
      fc.property(fc.constantFrom(...headerForms), switchEntries, (form, entries) => {
        const headers = buildHeaders(form, entries, { authorization: 'Bearer k' });
        fc.pre(headers !== undefined);
        // Headers trims values (fetch sends them trimmed); the rule trims too.
        expect(verdict(headers)).toBe(expected(entries.map((e) => e.value)));
      }),
      fuzzParameters(500),
    );
  });
});
