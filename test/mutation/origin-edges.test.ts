/**
 * Folder names for certificate origins (src/certificates/origin.ts) at their edges, as a mutation
 * run found them untested: a byte under 0x10 keeps two hex digits, the length bound holds to the
 * character, and a name that would be empty or hidden is not given; a host name that only
 * starts like a loopback address is not one.
 */
import { describe, expect, it } from 'vitest';
import { MAX_READABLE_FOLDER_NAME, OFFICIAL_BASE_URL, isLoopback, readableFolderName, sharesSdkLayout } from '../../src/certificates/origin.js';

describe('readableFolderName', () => {
  it('writes every byte outside [a-z0-9.-] as _ and two hex digits', () => {
    expect(readableFolderName('a\nb\u0001/Z_')).toBe('a_0ab_01_2f_5a_5f');
    expect(readableFolderName('é')).toBe('_c3_a9');
  });

  it(`keeps names of up to ${MAX_READABLE_FOLDER_NAME} characters, to the character`, () => {
    expect(MAX_READABLE_FOLDER_NAME).toBe(120);
    expect(readableFolderName('a'.repeat(120))).toBe('a'.repeat(120));
    expect(readableFolderName('a'.repeat(121))).toBeUndefined();
    expect(readableFolderName(`${'a'.repeat(117)}/`)).toBe(`${'a'.repeat(117)}_2f`);
    expect(readableFolderName(`${'a'.repeat(118)}/`)).toBeUndefined();
  });

  it('gives no name that is empty or starts with a dot; a dot elsewhere is kept', () => {
    expect(readableFolderName('')).toBeUndefined();
    expect(readableFolderName('.')).toBeUndefined();
    expect(readableFolderName('.cache')).toBeUndefined();
    expect(readableFolderName('a.')).toBe('a.');
  });
});

it('only the official default base URL shares the SDK file layout', () => {
  expect(OFFICIAL_BASE_URL).toBe('https://ark.cn-beijing.volces.com/api/v3');
  expect(sharesSdkLayout('https://ark.cn-beijing.volces.com/api/v3')).toBe(true);
  expect(sharesSdkLayout('https://ark.cn-beijing.volces.com/api/v3/')).toBe(false);
  expect(sharesSdkLayout('https://ark.cn-shanghai.volces.com/api/v3')).toBe(false);
});

it('a DNS name that starts like a loopback address is not one: it may resolve anywhere', () => {
  for (const url of ['http://127.0.0.1.example.com/', 'http://127.0.0.1x/', 'https://127.1.2.3.nip.example/api/v3']) {
    expect(isLoopback(url)).toBe(false);
  }
});
