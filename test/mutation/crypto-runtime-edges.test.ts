/**
 * The crypto layer where the runtime decides (mutation testing, issue 16): a runtime without
 * `crypto` or without `crypto.subtle` (WebCrypto sealing says so, by a typed error, and does not
 * throw a TypeError), the key WebCrypto seals with is not extractable, `backend` left out means
 * 'auto' (noble where no node:crypto backend resolves, not a refusal), and the refusals whose
 * texts are module-level constants, read from a fresh import so that the module's own text is
 * what is checked.
 */
import { afterEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { ArkE2EEError } from '../../src/errors.js';
import { webCryptoSealTextToBase64, webCryptoSubtle } from '../../src/crypto/webcrypto-seal.js';
import { nobleBackend } from '../../src/crypto/noble.js';
import { loadNoble } from '../../src/crypto/select.js';

const KEY = new Uint8Array(32).fill(7);
const NONCE = new Uint8Array(12).fill(9);

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('WebCrypto sealing, by what the runtime has', () => {
  it('a runtime without crypto at all has no subtle, and sealing there is a typed refusal', async () => {
    vi.stubGlobal('crypto', undefined);
    expect(webCryptoSubtle()).toBeUndefined();
    const error = await webCryptoSealTextToBase64(KEY, NONCE, 'text').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArkE2EEError);
    expect((error as ArkE2EEError).code).toBe('ERR_ARK_E2EE');
    expect((error as Error).message).toBe('this runtime has no crypto.subtle');
  });

  it('a runtime with crypto but no subtle (an insecure origin) is refused the same way', async () => {
    vi.stubGlobal('crypto', { getRandomValues: globalThis.crypto.getRandomValues.bind(globalThis.crypto) });
    const error = await webCryptoSealTextToBase64(KEY, NONCE, 'text').catch((e: unknown) => e);
    expect((error as Error).message).toBe('this runtime has no crypto.subtle');
  });

  it('imports the AES key as raw, not extractable, for encryption only, and seals what the backend seals', async () => {
    const subtle = globalThis.crypto.subtle;
    const imports: unknown[][] = [];
    vi.stubGlobal('crypto', {
      subtle: {
        importKey: (...args: unknown[]) => {
          imports.push(args);
          return (subtle.importKey as (...a: unknown[]) => Promise<unknown>)(...args);
        },
        encrypt: subtle.encrypt.bind(subtle),
      },
    });
    const sealed = await webCryptoSealTextToBase64(KEY, NONCE, 'héllo');
    expect(imports).toHaveLength(1);
    expect(imports[0]!.slice(2)).toEqual(['AES-GCM', false, ['encrypt']]);
    expect(imports[0]![0]).toBe('raw');
    const expected = Buffer.from(nobleBackend.seal(KEY, NONCE, new TextEncoder().encode('héllo'))).toString('base64');
    expect(sealed).toBe(expected);
  });
});

/** The typed error `run` throws (the test fails if it throws none). */
function refusal(run: () => unknown): ArkE2EEError {
  try {
    run();
  } catch (error) {
    return error as ArkE2EEError;
  }
  throw new Error('expected a refusal');
}

/** A fresh copy of `path`, loaded after any `vi.doMock`, so that its module-level code runs again. */
async function freshImport<T>(path: string): Promise<T> {
  vi.resetModules();
  onTestFinished(() => {
    vi.doUnmock('#crypto/native');
    vi.resetModules();
  });
  return (await import(path)) as T;
}

describe('backend selection where no node:crypto backend resolves', () => {
  it("left out, the choice is 'auto': noble, not the refusal of 'node'", async () => {
    vi.doMock('#crypto/native', () => ({ nativeBackend: () => undefined }));
    const { resolveBackend } = await freshImport<typeof import('../../src/crypto/select.js')>('../../src/crypto/select.js');
    expect(resolveBackend().name).toBe('noble');
    expect(resolveBackend('auto').name).toBe('noble');
    const error = refusal(() => resolveBackend('node'));
    expect(error.code).toBe('ERR_ARK_E2EE');
    expect(error.message).toBe(
      "backend 'node' needs node:crypto, which this runtime (or this bundle's import conditions) does not have; use 'noble' or 'auto'",
    );
  });
});

describe('the noble backend for asynchronous sessions', () => {
  it('loadNoble gives the noble backend itself', async () => {
    expect(await loadNoble()).toBe(nobleBackend);
  });
});

describe('refusal texts that are module-level constants, from a fresh import', () => {
  const G =
    '046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296' +
    '4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5';

  it('a point off the curve and a scalar out of range, in the words every backend uses', async () => {
    const { nobleBackend: noble } = await freshImport<typeof import('../../src/crypto/noble.js')>('../../src/crypto/noble.js');
    const offCurve = Uint8Array.from(Buffer.from(G, 'hex'));
    offCurve[64] = offCurve[64]! ^ 1;
    const notOnCurve = refusal(() => noble.agree(offCurve));
    expect(notOnCurve.code).toBe('ERR_ARK_E2EE_INVALID_KEY');
    expect(notOnCurve.message).toBe('peer public key is not a valid point on P-256');
    const badScalar = refusal(() => noble.agree(Uint8Array.from(Buffer.from(G, 'hex')), new Uint8Array(32)));
    expect(badScalar.code).toBe('ERR_ARK_E2EE_INVALID_KEY');
    expect(badScalar.message).toBe('private key must be a 32-byte P-256 scalar in [1, n-1]');
  });
});
