/**
 * E2E_CERTIFICATE_PATH where `#certificates/files` has no file system (browsers, edge
 * runtimes: certificates/files-none.ts), here by mocking the module to that variant: the
 * variable is refused with a typed error that says what to do, and nothing is sent.
 */
import { describe, expect, it, vi } from 'vitest';
import { createEncryptedFetch } from '../../src/index.js';
import { InvalidCertificateError } from '../../src/errors.js';

vi.mock('#certificates/files', () => import('../../src/certificates/files-none.js'));

const CHAT = 'https://ark.example.test/api/v3/chat/completions';
const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'the secret question' }] });

describe('E2E_CERTIFICATE_PATH without a file system', () => {
  it('is refused with InvalidCertificateError naming the fix; no request goes out', async () => {
    const sent: unknown[] = [];
    const encryptedFetch = createEncryptedFetch({
      fetch: (async (...args: unknown[]) => {
        sent.push(args);
        return new Response('{}');
      }) as typeof fetch,
      errors: 'throw',
      onWarning: () => {},
      env: { E2E_CERTIFICATE_PATH: '/etc/ark/model.pem' },
    });
    const error = await encryptedFetch(CHAT, { method: 'POST', headers: { 'x-is-encrypted': 'true' }, body }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidCertificateError);
    expect((error as InvalidCertificateError).code).toBe('ERR_ARK_E2EE_INVALID_CERTIFICATE');
    expect((error as Error).message).toContain(
      'E2E_CERTIFICATE_PATH is set, but this runtime has no file system: unset it, or give the certificate option',
    );
    expect(sent).toEqual([]);
  });
});
