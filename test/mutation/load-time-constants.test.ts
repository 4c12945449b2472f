/**
 * Values a module sets once, when it loads: the patterns and decoders of the DER and PEM readers,
 * and the wire protocol's names and numbers. A mutation run switches such a value only while the
 * module loads (docs/security.md, "Mutation testing"), so each test here loads its module afresh
 * and reads what the value decides: a date with a letter in it, bytes that are not UTF-8, a line
 * that only contains a BEGIN line, and the constants against protocol.md's own text.
 */
import { describe, expect, it } from 'vitest';
import { ascii, bytes, tlv } from '../helpers/der-builder.js';
import { loadAfresh } from '../helpers/load-afresh.js';

function refusal(read: () => unknown): string {
  try {
    read();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('read without a refusal');
}

describe('protocol/der.ts, loaded afresh', () => {
  it('a time is digits only, from its first character to the Z', async () => {
    const { TAG, readTlv, timeAt } = await loadAfresh(() => import('../../src/protocol/der.js'));
    const time = (text: string) => {
      const der = tlv(TAG.utcTime, ascii(text));
      return () => timeAt(der, readTlv(der, 0), 'notAfter');
    };
    expect(time('250101000000Z')().toISOString()).toBe('2025-01-01T00:00:00.000Z');
    const form = 'the notAfter is not in the form RFC 5280 requires (YYMMDDHHMMSSZ)';
    expect(refusal(time('2501010000a0Z'))).toBe(form);
    expect(refusal(time('a50101000000Z'))).toBe(form);
    expect(refusal(time('25-101000000Z'))).toBe(form);
  });

  it('a UTF8String that does not decode is refused, not read with U+FFFD', async () => {
    const { TAG, readTlv, stringAt } = await loadAfresh(() => import('../../src/protocol/der.js'));
    const der = tlv(TAG.utf8String, bytes(0x41, 0xc3));
    expect(refusal(() => stringAt(der, readTlv(der, 0), 'common name'))).toBe('the common name is not valid UTF-8');
  });
});

describe('protocol/pem.ts, loaded afresh', () => {
  it('pemBeginLabel takes a whole BEGIN line, with a label of one character or more', async () => {
    const { pemBeginLabel } = await loadAfresh(() => import('../../src/protocol/pem.js'));
    expect(pemBeginLabel('-----BEGIN EC PRIVATE KEY-----')).toBe('EC PRIVATE KEY');
    expect(pemBeginLabel('x-----BEGIN X-----')).toBeUndefined();
    expect(pemBeginLabel('-----BEGIN X-----x')).toBeUndefined();
  });
});

describe('protocol/constants.ts, loaded afresh, is protocol.md', () => {
  it('names the headers, the AICC markers, the paths, the reload period and content_filter as the spec does', async () => {
    const constants = await loadAfresh(() => import('../../src/protocol/constants.js'));
    expect({ ...constants }).toEqual({
      HEADER_IS_ENCRYPTED: 'x-is-encrypted',
      HEADER_SESSION_TOKEN: 'X-Session-Token',
      HEADER_ENCRYPT_INFO: 'X-Encrypt-Info',
      SESSION_KEY_LENGTH: 32,
      SESSION_NONCE_LENGTH: 12,
      HKDF_OUTPUT_LENGTH: 44,
      AICC_VERSION: 'AICCv0.1',
      AICC_RING_PREFIX: 'ring.',
      AICC_KEY_PREFIX: 'key.',
      CERTIFICATE_PATH: '/e2e/get/certificate',
      CERTIFICATE_SESSION_TOKEN: '/e2e/get/certificate',
      CHAT_COMPLETIONS_SUFFIX: '/chat/completions',
      BATCH_CHAT_COMPLETIONS_SUFFIX: '/batch/chat/completions',
      CERTIFICATE_RELOAD_MS: 1_209_600_000,
      FINISH_REASON_CONTENT_FILTER: 'content_filter',
    });
  });
});
