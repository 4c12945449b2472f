/**
 * Every error the public API throws is an ArkE2EEError with a stable code (issue 14): the places
 * that used to throw a plain Error or the wrong class.
 */
import { describe, expect, it, vi } from 'vitest';
import { webCryptoSealTextToBase64 } from '../../src/crypto/webcrypto-seal.js';
import { ArkE2EEError, DecryptionFailedError, InvalidCertificateError, InvalidKeyError } from '../../src/errors.js';
import { parseCertificate } from '../../src/protocol/certificate.js';
import { createSession } from '../../src/protocol/create-session.js';
import { createMockCertificate } from '../../src/testing/index.js';
import { deriveServerSession, serverDecrypt, serverEncrypt } from '../../src/testing/service-crypto.js';

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

const KEY = new Uint8Array(32).fill(7);
const NONCE = new Uint8Array(12).fill(9);

describe('typed errors', () => {
  it('AICC mode with a certificate that names no ring and key is an InvalidCertificateError, not an InvalidKeyError', () => {
    const plain = parseCertificate(createMockCertificate({ aicc: false }).certificatePem);
    const error = thrown(() => createSession(plain, { aicc: true }));
    expect(error).toBeInstanceOf(InvalidCertificateError);
    expect(error).not.toBeInstanceOf(InvalidKeyError);
    expect((error as ArkE2EEError).code).toBe('ERR_ARK_E2EE_INVALID_CERTIFICATE');
    expect((error as Error).message).toMatch(/AICC mode needs a certificate/);
    // The same certificate without AICC makes a session: the refusal is about the mode.
    expect(createSession(plain).token).not.toBe('');
  });

  it("the mock's service-side decryption refuses with DecryptionFailedError", () => {
    for (const bad of ['not base64!', 'QUJD', serverEncrypt(KEY, NONCE, 'hello').replace(/^./, (c) => (c === 'A' ? 'B' : 'A'))]) {
      const error = thrown(() => serverDecrypt(KEY, NONCE, bad));
      expect(error, bad).toBeInstanceOf(DecryptionFailedError);
      expect((error as ArkE2EEError).code).toBe('ERR_ARK_E2EE_DECRYPTION_FAILED');
    }
    expect(serverDecrypt(KEY, NONCE, serverEncrypt(KEY, NONCE, 'hello'))).toBe('hello');
  });

  it("the mock's service-side handshake refuses a bad session token with InvalidKeyError", () => {
    const { privateKey } = createMockCertificate();
    const offCurve = Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 1)]).toString('base64');
    const short = Buffer.from([4, 1, 2, 3]).toString('base64');
    for (const token of [short, offCurve]) {
      const error = thrown(() => deriveServerSession(privateKey, token));
      expect(error, token).toBeInstanceOf(InvalidKeyError);
      expect((error as ArkE2EEError).code).toBe('ERR_ARK_E2EE_INVALID_KEY');
    }
    expect(thrown(() => deriveServerSession(privateKey, 'not base64!'))).toBeInstanceOf(DecryptionFailedError);
  });

  it('sealing on WebCrypto where there is none rejects with an ArkE2EEError', async () => {
    vi.stubGlobal('crypto', undefined);
    try {
      const error = await webCryptoSealTextToBase64(KEY, NONCE, 'text').catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ArkE2EEError);
      expect((error as ArkE2EEError).code).toBe('ERR_ARK_E2EE');
    } finally {
      vi.unstubAllGlobals();
    }
  });
});
