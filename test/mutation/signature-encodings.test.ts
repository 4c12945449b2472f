/**
 * The two encodings the signature checks (src/certificates/signature.ts) parse themselves: the
 * RSASSA-PSS parameters of the signature algorithm (RFC 4055), each field refused or accepted with
 * a real signature behind it, and the DER ECDSA-Sig-Value turned into WebCrypto's `r || s`, each
 * form made by re-encoding a real signature. A mutation run (issue 16) found these untested.
 */
import { generateKeyPairSync } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { signatureProblem } from '../../src/certificates/signature.js';
import type { TrustCertificate } from '../../src/certificates/trust-certificate.js';
import { bytes, concat, explicit, integer, octets, oid, seq, set, tlv } from '../helpers/der-builder.js';
import {
  SIGNATURE_OID as S,
  algorithm,
  ecdsaRawSigner,
  hashAlgorithm,
  issuerWith,
  pssParameters,
  pssSigner,
  signedWith,
  spkiOfKey,
} from '../helpers/signed-der.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaIssuer = issuerWith(spkiOfKey(rsa.publicKey));
const SHA224 = '2.16.840.1.101.3.4.2.4';

/** A PSS certificate with these parameters (`undefined`: none), signed with SHA-256 and salt `salt`. */
const pssChild = (parameters: Uint8Array | undefined, salt = 32): TrustCertificate =>
  signedWith(parameters === undefined ? seq(oid(S.rsassaPss)) : algorithm(S.rsassaPss, parameters), pssSigner(rsa.privateKey, 'sha256', salt));
const hashField = (dotted: string): Uint8Array => explicit(0, hashAlgorithm(dotted));
const mgfField = (dotted: string): Uint8Array => explicit(1, algorithm(S.mgf1, hashAlgorithm(dotted)));
const SHA256_FIELDS = [hashField(S.sha256), mgfField(S.sha256)];

describe('RSASSA-PSS parameters', () => {
  it.each([
    ['salt left out: 20 octets (the DEFAULT)', seq(...SHA256_FIELDS), 20],
    ['salt 0', seq(...SHA256_FIELDS, explicit(2, integer(0))), 0],
    ['salt 200 (one octet with the high bit: 00 C8)', seq(...SHA256_FIELDS, explicit(2, integer(200))), 200],
    ['trailer field 1 (the only one defined)', seq(...SHA256_FIELDS, explicit(2, integer(32)), explicit(3, integer(1))), 32],
  ])('accepted and verified: %s', async (_, parameters, salt) => {
    expect(await signatureProblem(pssChild(parameters, salt), rsaIssuer)).toBeUndefined();
  });

  it('a two-octet salt length (300 = 01 2C) is read as one number: verified under a 3072-bit key, and 299 is not', async () => {
    // 3072 bits hold up to 384 - 32 - 2 = 350 salt octets with SHA-256.
    const big = generateKeyPairSync('rsa', { modulusLength: 3072 });
    const issuer = issuerWith(spkiOfKey(big.publicKey));
    const signer = pssSigner(big.privateKey, 'sha256', 300);
    expect(await signatureProblem(signedWith(algorithm(S.rsassaPss, pssParameters(S.sha256, 300)), signer), issuer)).toBeUndefined();
    expect(await signatureProblem(signedWith(algorithm(S.rsassaPss, pssParameters(S.sha256, 299)), signer), issuer)).toBe(
      'its signature does not verify under the key of "CN=issuer"',
    );
  });

  it.each([
    ['no parameters', undefined, 'RSASSA-PSS without parameters (SHA-1) is not accepted'],
    ['an empty SEQUENCE (all DEFAULTs: SHA-1)', seq(), 'RSASSA-PSS with hash SHA-1 is not accepted'],
    ['SHA-1 written out', seq(hashField(S.sha1), mgfField(S.sha1)), 'RSASSA-PSS with hash SHA-1 is not accepted'],
    ['SHA-224, by OID', seq(hashField(SHA224), mgfField(SHA224)), `RSASSA-PSS with hash ${SHA224} is not accepted`],
    ['a hash AlgorithmIdentifier without OID', seq(explicit(0, seq()), mgfField(S.sha256)), 'RSASSA-PSS with hash (no OID) is not accepted'],
    ['MGF1 left out (MGF1 with SHA-1)', seq(hashField(S.sha256)), 'RSASSA-PSS with an MGF1 hash other than the message hash is not supported'],
    ['MGF1 with SHA-384', seq(hashField(S.sha256), mgfField(S.sha384)), 'RSASSA-PSS with an MGF1 hash other than the message hash is not supported'],
    ['MGF1 without its hash', seq(hashField(S.sha256), explicit(1, algorithm(S.mgf1))), 'RSASSA-PSS with an MGF1 hash other than the message hash is not supported'],
    ['a mask generation other than MGF1', seq(hashField(S.sha256), explicit(1, algorithm('1.2.3.4', hashAlgorithm(S.sha256)))), 'RSASSA-PSS mask generation 1.2.3.4 is not MGF1'],
    ['a mask generation without OID', seq(hashField(S.sha256), explicit(1, seq())), 'RSASSA-PSS mask generation (unreadable) is not MGF1'],
    ['a salt length that is an OCTET STRING', seq(...SHA256_FIELDS, explicit(2, octets(bytes(32)))), 'bad RSASSA-PSS salt length'],
    ['a salt length of three octets', seq(...SHA256_FIELDS, explicit(2, tlv(0x02, bytes(0, 0, 32)))), 'bad RSASSA-PSS salt length'],
    ['trailer field 2', seq(...SHA256_FIELDS, explicit(2, integer(32)), explicit(3, integer(2))), 'bad RSASSA-PSS trailer field'],
    ['trailer field 256 (01 00)', seq(...SHA256_FIELDS, explicit(2, integer(32)), explicit(3, integer(256))), 'bad RSASSA-PSS trailer field'],
    // Each of these would verify if read leniently: the fields inside are the right ones.
    ['a SET instead of a SEQUENCE', set(...SHA256_FIELDS, explicit(2, integer(32))), 'malformed RSASSA-PSS parameters'],
    ['NULL', tlv(0x05), 'malformed RSASSA-PSS parameters'],
    ['a hash AlgorithmIdentifier that is a SET', seq(explicit(0, set(oid(S.sha256), tlv(0x05))), mgfField(S.sha256)), 'malformed RSASSA-PSS parameters'],
    ['an MGF1 hash AlgorithmIdentifier that is a SET', seq(hashField(S.sha256), explicit(1, algorithm(S.mgf1, set(oid(S.sha256), tlv(0x05))))), 'malformed RSASSA-PSS parameters'],
    ['a truncated hash field', seq(explicit(0, bytes(0x30, 0x05)), mgfField(S.sha256)), 'malformed RSASSA-PSS parameters'],
  ])('refused: %s', async (_, parameters, reason) => {
    expect(await signatureProblem(pssChild(parameters), rsaIssuer)).toBe(reason);
  });
});

// P-256's group order: (r, s) and (r, n - s) are both valid signatures of the same message.
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const toBig = (value: Uint8Array): bigint => BigInt(`0x${Buffer.from(value).toString('hex') || '0'}`);
const toBytes = (value: bigint): Uint8Array => Uint8Array.from(Buffer.from(value.toString(16).padStart(64, '0'), 'hex'));
/** The content octets of the minimal DER INTEGER of a non-negative `value` (big-endian bytes). */
function minimal(value: Uint8Array): Uint8Array {
  let at = 0;
  while (at < value.length - 1 && value[at] === 0) at++;
  const rest = value.subarray(at);
  return (rest[0]! & 0x80) !== 0 ? concat([bytes(0), rest]) : rest;
}
const int = (content: Uint8Array): Uint8Array => tlv(0x02, content);

describe('ECDSA-Sig-Value → r || s', () => {
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const issuer = issuerWith(spkiOfKey(key.publicKey));
  const raw = ecdsaRawSigner(key.privateKey, 'sha256');
  /** A P-256 certificate whose signature is `encode(r, s)` of a real `r || s`. */
  const child = (encode: (r: Uint8Array, s: Uint8Array) => Uint8Array, pick = (_: Uint8Array, s: Uint8Array) => s): TrustCertificate =>
    signedWith(algorithm(S.ecdsaSha256), (tbs) => {
      const rs = raw(tbs);
      const r = rs.subarray(0, 32);
      return encode(r, pick(r, rs.subarray(32)));
    });
  /** The s of the pair with the high bit set (needs a leading 00 in DER) or clear. */
  const highS = (_: Uint8Array, s: Uint8Array): Uint8Array => toBytes([toBig(s), N - toBig(s)].reduce((a, b) => (a > b ? a : b)));
  const lowS = (_: Uint8Array, s: Uint8Array): Uint8Array => toBytes([toBig(s), N - toBig(s)].reduce((a, b) => (a < b ? a : b)));
  const check = (encode: (r: Uint8Array, s: Uint8Array) => Uint8Array, pick?: (r: Uint8Array, s: Uint8Array) => Uint8Array) =>
    signatureProblem(child(encode, pick), issuer);
  const MALFORMED = 'its signature is malformed';
  const minimalPair = (r: Uint8Array, s: Uint8Array): Uint8Array => seq(int(minimal(r)), int(minimal(s)));

  /** A signature, re-made until r is under 2^247 (31 octets as a DER INTEGER): 1 in 512. */
  let shortR: Uint8Array;
  let shortS: Uint8Array;
  beforeAll(() => {
    const tbs = signedWith(algorithm(S.ecdsaSha256), () => bytes(0)).tbs;
    for (let i = 0; i < 20_000; i++) {
      const rs = raw(tbs);
      if (rs[0] === 0 && rs[1]! < 0x80) {
        shortR = rs.subarray(0, 32);
        shortS = rs.subarray(32);
        return;
      }
    }
    throw new Error('no r under 2^247 in 20000 signatures');
  });

  it('an s with the high bit, after its 00 octet (33 content octets), verifies', async () => {
    expect(await check(minimalPair, highS)).toBeUndefined();
  });

  it('an s without the high bit (32 octets or fewer) verifies', async () => {
    expect(await check(minimalPair, lowS)).toBeUndefined();
  });

  it('an s with the high bit and no 00 octet is negative: malformed (it would verify otherwise)', async () => {
    expect(await check((r, s) => seq(int(minimal(r)), int(s)), highS)).toBe(MALFORMED);
  });

  it('an r under 2^247 is 31 octets or fewer in DER and is placed right-aligned: verifies', async () => {
    const certificate = signedWith(algorithm(S.ecdsaSha256), () => minimalPair(shortR, shortS));
    expect(minimal(shortR).length).toBeLessThan(32);
    expect(await signatureProblem(certificate, issuer)).toBeUndefined();
  });

  it('the same r padded with a 00 octet to 32 is a non-minimal INTEGER: malformed', async () => {
    const certificate = signedWith(algorithm(S.ecdsaSha256), () => seq(int(concat([bytes(0), minimal(shortR)])), int(minimal(shortS))));
    expect(await signatureProblem(certificate, issuer)).toBe(MALFORMED);
  });

  it.each([
    ['r longer than the curve (01 before its 32 octets)', (r: Uint8Array, s: Uint8Array) => seq(int(concat([bytes(1), r])), int(minimal(s)))],
    ['s longer than the curve', (r: Uint8Array, s: Uint8Array) => seq(int(minimal(r)), int(concat([bytes(1), s])))],
    ['r alone', (r: Uint8Array) => seq(int(minimal(r)))],
    ['r, s and a third INTEGER', (r: Uint8Array, s: Uint8Array) => seq(int(minimal(r)), int(minimal(s)), integer(1))],
    ['a byte after the SEQUENCE', (r: Uint8Array, s: Uint8Array) => concat([minimalPair(r, s), bytes(0)])],
    ['a SET instead of the SEQUENCE', (r: Uint8Array, s: Uint8Array) => set(int(minimal(r)), int(minimal(s)))],
    ['r as an OCTET STRING', (r: Uint8Array, s: Uint8Array) => seq(octets(r), int(minimal(s)))],
    ['an empty r', (_: Uint8Array, s: Uint8Array) => seq(tlv(0x02), int(minimal(s)))],
  ])('malformed: %s', async (_, encode) => {
    expect(await check(encode, lowS)).toBe(MALFORMED);
  });
});
