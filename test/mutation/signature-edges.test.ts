/**
 * The signature checks behind trustAnchors (src/certificates/signature.ts): every signature
 * algorithm, hash and curve accepted is verified for real (node:crypto signs, the library's
 * WebCrypto call verifies), every refused one is refused with its reason, and a key that does
 * not fit the algorithm is named as such. The RSASSA-PSS parameters and the ECDSA signature
 * encoding are in signature-encodings.test.ts. A mutation run (issue 16) found these untested.
 */
import { generateKeyPairSync } from 'node:crypto';
import { KeyUsageFlags } from '@peculiar/asn1-x509';
import { describe, expect, it } from 'vitest';
import type { signatureProblem as SignatureProblem } from '../../src/certificates/signature.js';
import { CertificateTrust } from '../../src/certificates/trust.js';
import { InvalidCertificateError } from '../../src/errors.js';
import { bitString, bytes, oid, seq, spkiOf, tlv } from '../helpers/der-builder.js';
import { loadAfresh } from '../helpers/load-afresh.js';
import { makeCertificate } from '../helpers/make-certificate.js';
import {
  SIGNATURE_OID as S,
  algorithm,
  ecdsaSigner,
  ed25519Signer,
  issuerWith,
  pssParameters,
  pssSigner,
  rsaSigner,
  signedWith,
  spkiOfKey,
  type NodeHash,
} from '../helpers/signed-der.js';

/**
 * signatureProblem from a copy of signature.ts loaded afresh for each check: its algorithm, hash
 * and curve tables are built when the module loads, and a mutation run switches them only then.
 */
const signatureProblem: typeof SignatureProblem = async (child, issuer) =>
  (await loadAfresh(() => import('../../src/certificates/signature.js'))).signatureProblem(child, issuer);

const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const p521 = generateKeyPairSync('ec', { namedCurve: 'P-521' });
const secp256k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaPssKey = generateKeyPairSync('rsa-pss', { modulusLength: 2048 });
const ed25519 = generateKeyPairSync('ed25519');
const otherEd25519 = generateKeyPairSync('ed25519');

const issuerOf = (pair: { publicKey: Parameters<typeof spkiOfKey>[0] }, commonName?: string) => issuerWith(spkiOfKey(pair.publicKey), commonName);
const NULL = tlv(0x05);
const ECDSA_OID: Record<NodeHash, string> = { sha256: S.ecdsaSha256, sha384: S.ecdsaSha384, sha512: S.ecdsaSha512 };
const RSA_OID: Record<NodeHash, string> = { sha256: S.rsaSha256, sha384: S.rsaSha384, sha512: S.rsaSha512 };
const HASH_OID: Record<NodeHash, string> = { sha256: S.sha256, sha384: S.sha384, sha512: S.sha512 };
const HASHES: NodeHash[] = ['sha256', 'sha384', 'sha512'];
const RUNTIME_CANNOT_IMPORT = /^the issuer's key cannot be used by this runtime's WebCrypto \(.+\)$/;

describe('each accepted algorithm verifies, under its own hash only', () => {
  it.each(HASHES)('ECDSA with %s', async (hash) => {
    expect(await signatureProblem(signedWith(algorithm(ECDSA_OID[hash]), ecdsaSigner(p256.privateKey, hash)), issuerOf(p256))).toBeUndefined();
  });

  it.each(HASHES)('RSA PKCS#1 v1.5 with %s', async (hash) => {
    expect(await signatureProblem(signedWith(algorithm(RSA_OID[hash], NULL), rsaSigner(rsa.privateKey, hash)), issuerOf(rsa))).toBeUndefined();
  });

  it.each(HASHES)('RSASSA-PSS with %s', async (hash) => {
    const salt = { sha256: 32, sha384: 48, sha512: 64 }[hash];
    const child = signedWith(algorithm(S.rsassaPss, pssParameters(HASH_OID[hash], salt)), pssSigner(rsa.privateKey, hash, salt));
    expect(await signatureProblem(child, issuerOf(rsa))).toBeUndefined();
  });

  it.each([
    ['P-256', p256, 'sha256'],
    ['P-384', p384, 'sha384'],
    ['P-521', p521, 'sha512'],
    ['P-384 with SHA-256', p384, 'sha256'],
    ['P-521 with SHA-256', p521, 'sha256'],
  ] as const)('an issuer key on %s', async (_, pair, hash) => {
    // P-521 values are 65 or 66 bytes (each about half the time): the curve's size, not the value's, places them.
    for (let i = 0; i < 4; i++) {
      expect(await signatureProblem(signedWith(algorithm(ECDSA_OID[hash]), ecdsaSigner(pair.privateKey, hash)), issuerOf(pair))).toBeUndefined();
    }
  });

  it('Ed25519', async () => {
    expect(await signatureProblem(signedWith(algorithm(S.ed25519), ed25519Signer(ed25519.privateKey)), issuerOf(ed25519))).toBeUndefined();
  });

  // The OID alone decides the hash: a signature made with another hash than the one named fails.
  it.each([
    ['ECDSA', (hash: NodeHash) => algorithm(ECDSA_OID[hash]), (hash: NodeHash) => ecdsaSigner(p256.privateKey, hash), p256],
    ['RSA', (hash: NodeHash) => algorithm(RSA_OID[hash], NULL), (hash: NodeHash) => rsaSigner(rsa.privateKey, hash), rsa],
    ['RSASSA-PSS', (hash: NodeHash) => algorithm(S.rsassaPss, pssParameters(HASH_OID[hash], 32)), (hash: NodeHash) => pssSigner(rsa.privateKey, hash, 32), rsa],
  ] as const)('%s: named with one hash, signed with another: does not verify', async (_, named, signer, pair) => {
    for (const [label, made] of [['sha256', 'sha384'], ['sha384', 'sha512'], ['sha512', 'sha256']] as const) {
      const problem = await signatureProblem(signedWith(named(label), signer(made)), issuerOf(pair));
      expect(problem).toBe('its signature does not verify under the key of "CN=issuer"');
    }
  });
});

describe('refused signature algorithms', () => {
  it.each([
    ['1.2.840.113549.1.1.4', 'md5WithRSAEncryption', rsa],
    ['1.2.840.113549.1.1.5', 'sha1WithRSAEncryption', rsa],
    ['1.2.840.10045.4.1', 'ecdsa-with-SHA1', p256],
    ['1.2.840.10040.4.3', 'dsa-with-sha1', rsa],
  ] as const)('%s (%s): refused by name, whatever the signature', async (dotted, weakName, pair) => {
    const child = signedWith(algorithm(dotted), () => bytes(1, 2, 3));
    expect(await signatureProblem(child, issuerOf(pair))).toBe(`it is signed with ${weakName}, which is not accepted`);
  });

  it.each([
    ['an unknown OID', '1.2.3.4'],
    ['Ed448', '1.3.101.113'],
    ['rsaEncryption (a key algorithm, not a signature one)', '1.2.840.113549.1.1.1'],
  ])('%s', async (_, dotted) => {
    const child = signedWith(algorithm(dotted), ed25519Signer(ed25519.privateKey));
    expect(await signatureProblem(child, issuerOf(ed25519))).toBe(
      `its signature algorithm ${dotted} is not supported (ECDSA, RSA PKCS#1 v1.5 or PSS with SHA-2, Ed25519)`,
    );
  });
});

describe('an issuer key that does not fit the signature', () => {
  const ecdsaChild = signedWith(algorithm(S.ecdsaSha256), ecdsaSigner(p256.privateKey, 'sha256'));

  it.each([
    ['RSA', issuerOf(rsa)],
    ['Ed25519', issuerOf(ed25519)],
  ])('ECDSA under an %s key', async (_, issuer) => {
    expect(await signatureProblem(ecdsaChild, issuer)).toBe("it has an ECDSA signature but the issuer's key is not an EC key");
  });

  it('ECDSA under an EC key on a curve WebCrypto does not have (secp256k1), named by OID', async () => {
    const child = signedWith(algorithm(S.ecdsaSha256), ecdsaSigner(secp256k1.privateKey, 'sha256'));
    expect(await signatureProblem(child, issuerOf(secp256k1))).toBe("the issuer's EC key is on an unsupported curve (1.3.132.0.10)");
  });

  it.each([
    ['no curve parameters', seq(oid('1.2.840.10045.2.1'))],
    ['explicit curve parameters', seq(oid('1.2.840.10045.2.1'), seq(tlv(0x02, bytes(1))))],
  ])('ECDSA under an EC key with %s: "unnamed"', async (_, keyAlgorithm) => {
    const point = spkiOfKey(p256.publicKey).subarray(-65); // an uncompressed P-256 point ends the SPKI
    const issuer = issuerWith(seq(keyAlgorithm, bitString(point)));
    expect(await signatureProblem(ecdsaChild, issuer)).toBe("the issuer's EC key is on an unsupported curve (unnamed)");
  });

  it.each([
    ['EC', issuerOf(p256)],
    ['RSASSA-PSS (id-RSASSA-PSS)', issuerOf(rsaPssKey)],
  ])('RSA PKCS#1 v1.5 under an %s key', async (_, issuer) => {
    const child = signedWith(algorithm(S.rsaSha256, NULL), rsaSigner(rsa.privateKey, 'sha256'));
    expect(await signatureProblem(child, issuer)).toBe("it has an RSA signature but the issuer's key is not an RSA key");
  });

  it.each([
    ['EC', issuerOf(p256)],
    ['Ed25519', issuerOf(ed25519)],
  ])('RSASSA-PSS under an %s key', async (_, issuer) => {
    const child = signedWith(algorithm(S.rsassaPss, pssParameters(S.sha256, 32)), pssSigner(rsa.privateKey, 'sha256', 32));
    expect(await signatureProblem(child, issuer)).toBe("it has an RSASSA-PSS signature but the issuer's key is not an RSA key");
  });

  it('RSASSA-PSS under an id-RSASSA-PSS key goes to WebCrypto: verified where the runtime imports such keys (not Node 20)', async () => {
    const child = signedWith(algorithm(S.rsassaPss, pssParameters(S.sha256, 32)), pssSigner(rsaPssKey.privateKey, 'sha256', 32));
    const problem = await signatureProblem(child, issuerOf(rsaPssKey));
    if (problem !== undefined) expect(problem).toMatch(RUNTIME_CANNOT_IMPORT);
  });

  it.each([
    ['EC', issuerOf(p256)],
    ['RSA', issuerOf(rsa)],
  ])('Ed25519 under an %s key', async (_, issuer) => {
    const child = signedWith(algorithm(S.ed25519), ed25519Signer(ed25519.privateKey));
    expect(await signatureProblem(child, issuer)).toBe("it has an Ed25519 signature but the issuer's key is not an Ed25519 key");
  });
});

describe('what WebCrypto says', () => {
  it('a signature made by another key: does not verify, naming the issuer', async () => {
    const child = signedWith(algorithm(S.ed25519), ed25519Signer(otherEd25519.privateKey));
    expect(await signatureProblem(child, issuerOf(ed25519, 'Ed Root'))).toBe('its signature does not verify under the key of "CN=Ed Root"');
  });

  it('an ECDSA signature that is not an ECDSA-Sig-Value: malformed, before WebCrypto', async () => {
    const child = signedWith(algorithm(S.ecdsaSha256), () => bytes(1, 2, 3));
    expect(await signatureProblem(child, issuerOf(p256))).toBe('its signature is malformed');
  });

  it.each([
    ['an EC point that is not on the curve', spkiOf(bytes(4, 1, 2, 3)), algorithm(S.ecdsaSha256), ecdsaSigner(p256.privateKey, 'sha256')],
    ['an RSA key that is not an RSAPublicKey', seq(algorithm('1.2.840.113549.1.1.1', NULL), bitString(bytes(1, 2, 3))), algorithm(S.rsaSha256, NULL), rsaSigner(rsa.privateKey, 'sha256')],
    ['an Ed25519 key of 3 bytes', seq(algorithm(S.ed25519), bitString(bytes(1, 2, 3))), algorithm(S.ed25519), ed25519Signer(ed25519.privateKey)],
  ])('an issuer SPKI WebCrypto cannot import (%s)', async (_, spki, signatureAlgorithm, signer) => {
    expect(await signatureProblem(signedWith(signatureAlgorithm, signer), issuerWith(spki))).toMatch(RUNTIME_CANNOT_IMPORT);
  });

  it('a verification WebCrypto refuses to run (a PSS salt longer than a 2048-bit key holds): could not be checked', async () => {
    // 2048 bits hold at most 256 - 32 - 2 = 222 salt octets with SHA-256.
    const child = signedWith(algorithm(S.rsassaPss, pssParameters(S.sha256, 300)), pssSigner(rsa.privateKey, 'sha256', 32));
    expect(await signatureProblem(child, issuerOf(rsa))).toMatch(/^its signature could not be checked \(.+\)$/);
  });
});

describe('through CertificateTrust: an Ed25519 root', () => {
  const CA_USAGE = KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign;
  const root = makeCertificate({ commonName: 'Ed Root', keyType: 'ed25519', ca: true, keyUsage: CA_USAGE });
  const impostor = makeCertificate({ commonName: 'Ed Root', keyType: 'ed25519', ca: true, keyUsage: CA_USAGE });
  const leaf = makeCertificate({ commonName: 'ep-model', issuer: root, keyUsage: KeyUsageFlags.keyAgreement | KeyUsageFlags.digitalSignature });
  const NOW = Date.UTC(2026, 5, 1);

  it('a P-256 model certificate it signed is trusted', async () => {
    const verdict = await CertificateTrust.from({ trustAnchors: root.pem })!.verify(leaf.pem, NOW, 'the model certificate');
    expect(verdict.chain).toEqual(['CN=ep-model', 'CN=Ed Root']);
  });

  it('under another Ed25519 root of the same name: refused with the reason', async () => {
    const error: unknown = await CertificateTrust.from({ trustAnchors: impostor.pem })!
      .verify(leaf.pem, NOW, 'the model certificate')
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidCertificateError);
    expect((error as InvalidCertificateError).code).toBe('ERR_ARK_E2EE_INVALID_CERTIFICATE');
    expect((error as Error).message).toMatch(/^the model certificate is not trusted: .*its signature does not verify under the key of "CN=Ed Root"/s);
  });
});
