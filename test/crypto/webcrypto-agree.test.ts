/**
 * The handshake on WebCrypto (crypto/webcrypto-agree.ts, crypto/session-crypto.ts) against the
 * node and noble backends: the project's handshake vectors byte for byte, random scalars, HKDF
 * of any length, Wycheproof's points, and the same refusals in the same words. Node 20 has
 * `crypto.subtle`; a fixed scalar goes in as a JWK (d, x, y), x and y from node:crypto.
 */
import * as nodeCrypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createNodeBackend } from '../../src/crypto/node.js';
import { nobleBackend } from '../../src/crypto/noble.js';
import { loadNoble } from '../../src/crypto/select.js';
import { webCryptoSessionBackend, webCryptoSessionCrypto } from '../../src/crypto/session-crypto.js';
import {
  webCryptoAgree,
  webCryptoHkdf,
  type AgreementSubtle,
  type WebCryptoKeyPair,
} from '../../src/crypto/webcrypto-agree.js';
import { ArkE2EEError, InvalidKeyError } from '../../src/errors.js';
import { parseCertificate } from '../../src/protocol/certificate.js';
import { sessionWith } from '../../src/protocol/session-async.js';
import { createSession } from '../../src/protocol/create-session.js';
import { makeCertificate } from '../helpers/make-certificate.js';
import { deriveSession } from '../helpers/server-crypto.js';

const subtle = globalThis.crypto.subtle as unknown as AgreementSubtle;
const node = createNodeBackend(nodeCrypto);
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const fromHex = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'hex'));
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const scalarBytes = (k: bigint): Uint8Array => fromHex(k.toString(16).padStart(64, '0'));

/** `scalar` as a WebCrypto ECDH key pair: a JWK with d, and x, y computed by node:crypto. */
async function keyPairOf(scalar: Uint8Array): Promise<WebCryptoKeyPair> {
  const ecdh = nodeCrypto.createECDH('prime256v1');
  ecdh.setPrivateKey(scalar);
  const point = ecdh.getPublicKey();
  const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');
  const jwk = { kty: 'EC', crv: 'P-256', x: b64(point.subarray(1, 33)), y: b64(point.subarray(33, 65)) };
  const algorithm = { name: 'ECDH', namedCurve: 'P-256' };
  const { subtle: s } = globalThis.crypto;
  return {
    privateKey: await s.importKey('jwk', { ...jwk, d: b64(scalar) }, algorithm, false, ['deriveBits']),
    publicKey: await s.importKey('jwk', jwk, algorithm, true, []),
  };
}

interface HandshakeCase {
  name: string;
  certificate: string;
  ephemeral_private_key: string;
  aicc: boolean;
  expect: { session_token: string; key: string; nonce: string; encrypt_info: unknown };
}
const VECTORS = fileURLToPath(new URL('../../vectors/', import.meta.url));
const handshakes = ['handshake.json', 'extra_handshake.json'].flatMap(
  (file) => (JSON.parse(readFileSync(VECTORS + file, 'utf8')) as { cases: HandshakeCase[] }).cases,
);

describe('a session made on WebCrypto', () => {
  it(`gives every handshake vector's token, key, nonce and X-Encrypt-Info (${handshakes.length} cases), as node and noble do`, async () => {
    expect(handshakes.length).toBeGreaterThan(40);
    for (const c of handshakes) {
      const certificate = parseCertificate(c.certificate);
      const scalar = fromHex(c.ephemeral_private_key);
      const session = await sessionWith(webCryptoSessionCrypto(subtle, loadNoble, await keyPairOf(scalar)), certificate, c.aicc);
      const got = { session_token: session.token, key: hex(session.key), nonce: hex(session.nonce), encrypt_info: session.encryptInfo };
      expect(got, c.name).toEqual(c.expect);
      for (const backend of ['node', 'noble'] as const) {
        const other = createSession(certificate, { backend, aicc: c.aicc, unsafeFixedEphemeralKeyForTests: scalar });
        expect([other.token, hex(other.key), hex(other.nonce)], `${c.name}, ${backend}`).toEqual([session.token, got.key, got.nonce]);
      }
    }
  });

  it('is interchangeable with a noble session of the same scalar: same bytes, each opens what the other seals', async () => {
    const made = makeCertificate();
    const certificate = parseCertificate(made.pem);
    await fc.assert(
      fc.asyncProperty(fc.bigInt({ min: 1n, max: N - 1n }), fc.string({ unit: 'grapheme', maxLength: 40 }), async (k, text) => {
        const scalar = scalarBytes(k);
        const web = await sessionWith(webCryptoSessionCrypto(subtle, loadNoble, await keyPairOf(scalar)), certificate, false);
        const noble = createSession(certificate, { backend: 'noble', unsafeFixedEphemeralKeyForTests: scalar });
        expect(web.token).toBe(noble.token);
        expect(hex(web.key)).toBe(hex(noble.key));
        expect(hex(web.nonce)).toBe(hex(noble.nonce));
        expect(noble.decryptText(web.encryptText(text))).toBe(text);
        expect(web.decryptText(noble.encryptText(text))).toBe(text);
      }),
      { numRuns: 60 },
    );
  });

  it('draws a fresh ephemeral key each time, and the service derives the same key and nonce', async () => {
    const made = makeCertificate();
    const certificate = parseCertificate(made.pem);
    const tokens = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const session = await sessionWith(webCryptoSessionCrypto(subtle, loadNoble), certificate, false);
      const service = deriveSession(made.privateKey, session.token);
      expect(hex(session.key)).toBe(hex(service.key));
      expect(hex(session.nonce)).toBe(hex(service.nonce));
      expect(session.backend).toBe(webCryptoSessionBackend);
      tokens.add(session.token);
    }
    expect(tokens.size).toBe(20);
  });

  it("carries noble's AES-GCM, and says where to find ECDH and HKDF", () => {
    const key = new Uint8Array(32).fill(1);
    const nonce = new Uint8Array(12).fill(2);
    const text = new TextEncoder().encode('same bytes');
    expect(hex(webCryptoSessionBackend.seal(key, nonce, text))).toBe(hex(node.seal(key, nonce, text)));
    expect(webCryptoSessionBackend.name).toBe('noble');
    expect(() => webCryptoSessionBackend.agree(new Uint8Array(65))).toThrow(/resolveBackend\('noble'\)/);
    expect(() => webCryptoSessionBackend.hkdf(text, text, text, 4)).toThrow(ArkE2EEError);
  });
});

/** The message noble's agree throws for `point`. */
function nobleRefusal(point: Uint8Array): string {
  try {
    nobleBackend.agree(point, scalarBytes(7n));
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidKeyError);
    return (error as Error).message;
  }
  throw new Error(`noble accepted ${hex(point)}`);
}

describe('WebCrypto refuses what the other backends refuse, with the same InvalidKeyError', () => {
  const generator = nodeCrypto.createECDH('prime256v1');
  generator.setPrivateKey(scalarBytes(1n));
  const G = new Uint8Array(generator.getPublicKey());
  const withByte = (point: Uint8Array, index: number, value: number): Uint8Array => {
    const copy = point.slice();
    copy[index] = value;
    return copy;
  };
  const offCurve = withByte(G, 64, G[64]! ^ 1);
  const xAtP = new Uint8Array([4, ...scalarBytes(P), ...G.subarray(33)]);
  const cases: [string, Uint8Array][] = [
    ['off the curve (y of G changed)', offCurve],
    ['x = p (a coordinate not below the field prime)', xAtP],
    ['all-zero coordinates', withByte(new Uint8Array(65), 0, 4)],
    ['infinity (its one-byte encoding)', new Uint8Array([0])],
    ['65 zero bytes', new Uint8Array(65)],
    ['compressed (33 bytes)', new Uint8Array([2, ...G.subarray(1, 33)])],
    ['prefix 0x02 on 65 bytes', withByte(G, 0, 2)],
    ['hybrid prefix 0x06', withByte(G, 0, 6)],
    ['64 bytes', G.subarray(0, 64)],
    ['66 bytes', new Uint8Array([...G, 0])],
    ['empty', new Uint8Array(0)],
  ];

  it.each(cases)('%s', async (_, point) => {
    const expected = nobleRefusal(point);
    // Node's own refusal for comparison: the three backends say the same.
    expect(() => node.agree(point, scalarBytes(7n))).toThrow(expected);
    const ephemeral = await keyPairOf(scalarBytes(7n));
    for (const attempt of [
      () => webCryptoAgree(subtle, point),
      () => webCryptoAgree(subtle, point, ephemeral),
      () => webCryptoSessionCrypto(subtle, loadNoble).agree(point),
      () => webCryptoSessionCrypto(subtle, loadNoble, ephemeral).agree(point),
    ]) {
      const error = await attempt().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(InvalidKeyError);
      expect((error as Error).message).toBe(expected);
    }
  });
});

describe("Wycheproof's uncompressed points through WebCrypto", () => {
  interface EcdhCase {
    tcId: number;
    public: string;
    private: string;
    shared: string;
    result: 'valid' | 'invalid' | 'acceptable';
  }
  const file = fileURLToPath(new URL('../../vectors/wycheproof/ecdh_secp256r1_ecpoint_test.json', import.meta.url));
  const ecpoint = (JSON.parse(readFileSync(file, 'utf8')) as { testGroups: { tests: EcdhCase[] }[] }).testGroups.flatMap((g) => g.tests);

  it(`agrees on every valid case and refuses every other one (${ecpoint.length} cases)`, async () => {
    const failures: string[] = [];
    for (const c of ecpoint) {
      const scalar = scalarBytes(BigInt(`0x${c.private}`));
      const run = await webCryptoAgree(subtle, fromHex(c.public), await keyPairOf(scalar)).then(
        (agreement) => ({ ok: true as const, shared: hex(agreement.sharedSecret) }),
        (error: unknown) => ({ ok: false as const, error }),
      );
      if (c.result === 'valid') {
        if (!run.ok || run.shared !== c.shared) failures.push(`tcId ${c.tcId}: ${run.ok ? run.shared : String(run.error)}`);
      } else if (run.ok) failures.push(`tcId ${c.tcId} (${c.result}): accepted`);
      else if (!(run.error instanceof InvalidKeyError)) failures.push(`tcId ${c.tcId}: ${String(run.error)}`);
    }
    expect(failures).toEqual([]);
    expect(ecpoint.filter((c) => c.result === 'valid').length).toBeGreaterThan(0);
  });
});

describe('HKDF-SHA256 on WebCrypto', () => {
  it('gives the bytes of noble and node:crypto for any input and length', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 80 }),
        fc.uint8Array({ maxLength: 80 }),
        fc.uint8Array({ maxLength: 80 }),
        fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 255 * 32 })),
        async (ikm, salt, info, length) => {
          const web = hex(await webCryptoHkdf(subtle, ikm, salt, info, length));
          expect(web).toBe(hex(nobleBackend.hkdf(ikm, salt, info, length)));
          expect(web).toBe(hex(node.hkdf(ikm, salt, info, length)));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses a length WebCrypto cannot give, and the session crypto then asks noble (which gives 0 bytes)', async () => {
    const ikm = new Uint8Array(32);
    for (const length of [0, -1, 1.5, 255 * 32 + 1]) {
      await expect(webCryptoHkdf(subtle, ikm, ikm, ikm, length)).rejects.toThrow(ArkE2EEError);
    }
    expect((await webCryptoSessionCrypto(subtle, loadNoble).hkdf(ikm, ikm, ikm, 0)).length).toBe(0);
    await expect(webCryptoSessionCrypto(subtle, loadNoble).hkdf(ikm, ikm, ikm, 255 * 32 + 1)).rejects.toThrow(/8160/);
  });
});

describe('a runtime whose WebCrypto lacks P-256 ECDH or HKDF', () => {
  /** The real subtle, except that `refuse` operations reject as unsupported. */
  function lacking(refuse: (algorithm: unknown) => boolean): AgreementSubtle {
    const unsupported = (): Promise<never> => Promise.reject(new DOMException('not supported', 'NotSupportedError'));
    const real = subtle;
    return {
      generateKey: (algorithm, extractable, usages) => (refuse(algorithm) ? unsupported() : real.generateKey(algorithm, extractable, usages)),
      importKey: (format, data, algorithm, extractable, usages) =>
        refuse(algorithm) ? unsupported() : real.importKey(format, data, algorithm, extractable, usages),
      exportKey: (format, key) => real.exportKey(format, key),
      deriveBits: (algorithm, key, length) => real.deriveBits(algorithm, key, length),
    };
  }
  const made = makeCertificate();
  const certificate = parseCertificate(made.pem);

  it('still makes sessions, on noble, that the service opens', async () => {
    const noEcdh = lacking((algorithm) => typeof algorithm === 'object' && (algorithm as { name: string }).name === 'ECDH');
    const noHkdf = lacking((algorithm) => algorithm === 'HKDF');
    for (const crippled of [noEcdh, noHkdf]) {
      const session = await sessionWith(webCryptoSessionCrypto(crippled, loadNoble), certificate, false);
      const service = deriveSession(made.privateKey, session.token);
      expect(hex(session.key)).toBe(hex(service.key));
      expect(hex(session.nonce)).toBe(hex(service.nonce));
    }
  });

  it('but a bad peer key is still refused, in noble’s words', async () => {
    const noEcdh = lacking(() => true);
    const error = await webCryptoSessionCrypto(noEcdh, loadNoble).agree(new Uint8Array([4, ...new Uint8Array(64).fill(1)])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidKeyError);
    expect((error as Error).message).toBe('peer public key is not a valid point on P-256');
  });
});
