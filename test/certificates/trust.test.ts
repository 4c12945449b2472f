/**
 * trustAnchors and pinnedKeys (issue 7, protocol §7): a small PKI made in the test (P-256 root,
 * intermediate and model certificate; an RSA root; P-384), checked by CertificateTrust, then
 * through CertificateSource (every source, nothing untrusted cached) and end to end through
 * createEncryptedFetch against the mock server (nothing reaches the chat endpoint on failure).
 */
import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { Extension, KeyUsageFlags, NameConstraints } from '@peculiar/asn1-x509';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { CertificateSource, parseModelCertificate, type CertificateNeed } from '../../src/certificates/source.js';
import {
  CertificateTrust, MAX_CHAIN_LENGTH, MAX_PEM_CERTIFICATES, MAX_SIGNATURE_CHECKS, certificateKeyPin, splitPemCertificates, type TrustOptions } from '../../src/certificates/trust.js';
import { InvalidCertificateError } from '../../src/errors.js';
import { createEncryptedFetch } from '../../src/index.js';
import { startMockArkServer, type MockArkServer } from '../../src/testing/index.js';
import { makeCertificate, type MadeCertificate, type MakeCertificateOptions } from '../helpers/make-certificate.js';
import {
  DAY_MS, PLAIN, certificateRequests, chat, chatRequests, clock, contentOf, fakeHttp, memoryStore, okReply, originCacheFile, removeDir,
  tempDir,
} from './helpers.js';

const CA_USAGE = KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign;
const LEAF_USAGE = KeyUsageFlags.keyAgreement | KeyUsageFlags.digitalSignature;
const NOW = Date.UTC(2026, 5, 1);

const root = makeCertificate({ commonName: 'Test Root CA', ca: true, keyUsage: CA_USAGE });
const intermediate = makeCertificate({ commonName: 'Test Intermediate CA', issuer: root, ca: { pathLen: 0 }, keyUsage: CA_USAGE });
const leaf = makeCertificate({ commonName: 'ep-model', issuer: intermediate, keyUsage: LEAF_USAGE });
/** A root with the same name as `root` but another key: an impostor. */
const impostorRoot = makeCertificate({ commonName: 'Test Root CA', ca: true, keyUsage: CA_USAGE });
const otherRoot = makeCertificate({ commonName: 'Other Root CA', ca: true, keyUsage: CA_USAGE });
const rsaRoot = makeCertificate({ commonName: 'Test RSA Root CA', keyType: 'rsa', ca: true, keyUsage: CA_USAGE });
const selfSigned = makeCertificate({ commonName: 'ep-model' });

const leafUnder = (issuer: MadeCertificate, options: MakeCertificateOptions = {}): MadeCertificate =>
  makeCertificate({ commonName: 'ep-model', issuer, keyUsage: LEAF_USAGE, ...options });

/** The pin computed independently: node:crypto's SPKI export, SHA-256, base64. */
const pinOf = (pem: string): string =>
  createHash('sha256').update(new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' })).digest('base64');

const trustOf = (options: TrustOptions): CertificateTrust => {
  const trust = CertificateTrust.from(options);
  if (trust === undefined) throw new Error('expected trust checks');
  return trust;
};

async function verify(pem: string, options: TrustOptions, nowMs = NOW) {
  return trustOf(options).verify(pem, nowMs, 'the test certificate');
}

async function refusal(pem: string, options: TrustOptions, nowMs = NOW): Promise<string> {
  const error = await verify(pem, options, nowMs).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(InvalidCertificateError);
  const message = (error as Error).message;
  expect(message).toMatch(/^the test certificate is not trusted: .*; nothing was sent$/s);
  return message;
}

/** The PEM with one DER byte changed (`at` counted from the end when negative). */
function tamper(pem: string, at: number): string {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const index = at < 0 ? der.length + at : at;
  der[index] = (der[index] ?? 0) ^ 0x01;
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64')}\n-----END CERTIFICATE-----\n`;
}

describe('chains to a trust anchor', () => {
  it('leaf → intermediate (option) → root passes; the verdict names the chain and the pin', async () => {
    const verdict = await verify(leaf.pem, { trustAnchors: [root.pem], intermediates: [intermediate.pem] });
    expect(verdict.chain).toEqual(['CN=ep-model', 'CN=Test Intermediate CA', 'CN=Test Root CA']);
    expect(verdict.pin).toBe(pinOf(leaf.pem));
    expect(await certificateKeyPin(leaf.pem)).toBe(pinOf(leaf.pem));
  });

  it('the intermediate may come in the PEM itself, after the model certificate', async () => {
    const verdict = await verify(leaf.pem + intermediate.pem, { trustAnchors: root.pem });
    expect(verdict.chain).toHaveLength(3);
  });

  it('the anchors may be one PEM string with several blocks', async () => {
    const anchors = rsaRoot.pem + otherRoot.pem + root.pem;
    await expect(verify(leaf.pem + intermediate.pem, { trustAnchors: anchors })).resolves.toBeDefined();
  });

  it('a certificate that is itself a trust anchor passes (a self-signed model certificate as its own anchor)', async () => {
    expect((await verify(selfSigned.pem, { trustAnchors: [selfSigned.pem] })).chain).toEqual(['CN=ep-model']);
  });

  it('the verdict spans the validity common to every certificate of the chain', async () => {
    const shortIntermediate = makeCertificate({
      commonName: 'Short CA', issuer: root, ca: true, notBefore: new Date(Date.UTC(2026, 0, 1)), notAfter: new Date(Date.UTC(2027, 0, 1)),
    });
    const verdict = await verify(leafUnder(shortIntermediate).pem + shortIntermediate.pem, { trustAnchors: root.pem });
    expect(verdict.validFromMs).toBe(Date.UTC(2026, 0, 1));
    expect(verdict.validUntilMs).toBe(Date.UTC(2027, 0, 1));
  });

  it('RSA roots: PKCS#1 v1.5 with SHA-256, 384, 512, and RSASSA-PSS', async () => {
    for (const hash of ['sha256', 'sha384', 'sha512'] as const) {
      await expect(verify(leafUnder(rsaRoot, { hash }).pem, { trustAnchors: rsaRoot.pem })).resolves.toBeDefined();
      await expect(verify(leafUnder(rsaRoot, { hash, rsaPss: true }).pem, { trustAnchors: rsaRoot.pem })).resolves.toBeDefined();
    }
  });

  it('a P-384 root signing with ECDSA SHA-384, and a P-256 one with SHA-512', async () => {
    const p384 = makeCertificate({ commonName: 'P-384 Root', curve: 'P-384', hash: 'sha384', ca: true });
    await expect(verify(leafUnder(p384, { hash: 'sha384' }).pem, { trustAnchors: p384.pem })).resolves.toBeDefined();
    await expect(verify(leafUnder(root, { hash: 'sha512' }).pem, { trustAnchors: root.pem })).resolves.toBeDefined();
  });

  it(`chains of up to ${MAX_CHAIN_LENGTH} certificates pass; one more is refused`, async () => {
    const chainOf = (intermediates: number): { pem: string } => {
      let issuer = root;
      const extra: string[] = [];
      for (let i = 1; i <= intermediates; i++) {
        issuer = makeCertificate({ commonName: `CA ${i}`, issuer, ca: true });
        extra.unshift(issuer.pem);
      }
      return { pem: leafUnder(issuer).pem + extra.join('') };
    };
    expect((await verify(chainOf(3).pem, { trustAnchors: root.pem })).chain).toHaveLength(5);
    expect(await refusal(chainOf(4).pem, { trustAnchors: root.pem })).toMatch(/no trust anchor within 5 certificates/);
  });

  it('a model certificate without keyUsage, or with only keyAgreement or digitalSignature, passes', async () => {
    for (const keyUsage of [undefined, KeyUsageFlags.keyAgreement, KeyUsageFlags.digitalSignature]) {
      await expect(verify(leafUnder(root, { keyUsage }).pem, { trustAnchors: root.pem })).resolves.toBeDefined();
    }
  });
});

describe('refusals, each saying what failed', () => {
  it('a self-signed model certificate that is not an anchor', async () => {
    expect(await refusal(selfSigned.pem, { trustAnchors: root.pem })).toMatch(/self-signed \("CN=ep-model"\) and is not one of trustAnchors/);
  });

  it('a chain to another root: the issuer is not found', async () => {
    const message = await refusal(leaf.pem + intermediate.pem, { trustAnchors: otherRoot.pem });
    expect(message).toMatch(/link 2 \("CN=Test Intermediate CA" issued by "CN=Test Root CA"\): no trust anchor or intermediate is named "CN=Test Root CA"/);
  });

  it('the intermediate missing: the message says how to give it', async () => {
    expect(await refusal(leaf.pem, { trustAnchors: root.pem })).toMatch(/link 1 .*no trust anchor or intermediate is named "CN=Test Intermediate CA" \(pass the intermediate/);
  });

  it('a root with the right name but another key: the signature does not verify', async () => {
    const message = await refusal(leaf.pem + intermediate.pem, { trustAnchors: impostorRoot.pem });
    expect(message).toMatch(/link 2 .*: its signature does not verify under the key of "CN=Test Root CA"/);
  });

  it('a tampered signature', async () => {
    // The last DER byte is the last byte of the ECDSA signature's s.
    expect(await refusal(tamper(leafUnder(root).pem, -1), { trustAnchors: root.pem })).toMatch(/link 1 .*signature does not verify/);
  });

  it('a tampered certificate body (the signed bytes changed, the signature kept)', async () => {
    const made = leafUnder(root, { commonName: 'ep-modelA' });
    const der = Buffer.from(made.pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
    const at = der.indexOf(Buffer.from('ep-modelA'));
    expect(at).toBeGreaterThan(0);
    const message = await refusal(tamper(made.pem, at + 8), { trustAnchors: root.pem });
    expect(message).toMatch(/link 1 \("CN=ep-model@".*signature does not verify/);
  });

  it('an expired intermediate, and one not valid yet', async () => {
    const expired = makeCertificate({ commonName: 'Old CA', issuer: root, ca: true, notBefore: new Date(Date.UTC(2020, 0, 1)), notAfter: new Date(Date.UTC(2021, 0, 1)) });
    expect(await refusal(leafUnder(expired).pem + expired.pem, { trustAnchors: root.pem })).toMatch(/link 1 .*"CN=Old CA" expired on 2021-01-01T00:00:00.000Z/);
    const future = makeCertificate({ commonName: 'Future CA', issuer: root, ca: true, notBefore: new Date(Date.UTC(2030, 0, 1)) });
    expect(await refusal(leafUnder(future).pem + future.pem, { trustAnchors: root.pem })).toMatch(/"CN=Future CA" is not valid yet \(valid from 2030/);
  });

  it('an expired root, and an expired model certificate', async () => {
    const oldRoot = makeCertificate({ commonName: 'Old Root', ca: true, notBefore: new Date(Date.UTC(2020, 0, 1)), notAfter: new Date(Date.UTC(2021, 0, 1)) });
    expect(await refusal(leafUnder(oldRoot).pem, { trustAnchors: oldRoot.pem })).toMatch(/"CN=Old Root" expired/);
    const oldLeaf = leafUnder(root, { notBefore: new Date(Date.UTC(2020, 0, 1)), notAfter: new Date(Date.UTC(2021, 0, 1)) });
    expect(await refusal(oldLeaf.pem, { trustAnchors: root.pem })).toMatch(/"CN=ep-model" expired/);
  });

  it('an intermediate that is not a CA: cA false, or no basicConstraints at all', async () => {
    for (const ca of [false, undefined]) {
      const notCa = makeCertificate({ commonName: 'Not A CA', issuer: root, ca, keyUsage: CA_USAGE });
      expect(await refusal(leafUnder(notCa).pem + notCa.pem, { trustAnchors: root.pem })).toMatch(
        /link 1 .*"CN=Not A CA" issued a certificate but is not a CA certificate \(no basicConstraints cA=true\)/,
      );
    }
  });

  it('a root that is not a CA cannot issue either', async () => {
    const plainRoot = makeCertificate({ commonName: 'Plain Root' });
    expect(await refusal(leafUnder(plainRoot).pem, { trustAnchors: plainRoot.pem })).toMatch(/"CN=Plain Root" issued a certificate but is not a CA/);
  });

  it('an intermediate whose keyUsage lacks keyCertSign', async () => {
    const noSign = makeCertificate({ commonName: 'No Sign CA', issuer: root, ca: true, keyUsage: KeyUsageFlags.cRLSign });
    expect(await refusal(leafUnder(noSign).pem + noSign.pem, { trustAnchors: root.pem })).toMatch(/"CN=No Sign CA" .*lacks keyCertSign/);
  });

  it('a pathLenConstraint exceeded', async () => {
    const below = makeCertificate({ commonName: 'Below CA', issuer: intermediate, ca: true }); // intermediate has pathLen 0
    const message = await refusal(leafUnder(below).pem + below.pem + intermediate.pem, { trustAnchors: root.pem });
    expect(message).toMatch(/link 2 .*"CN=Test Intermediate CA" allows 0 intermediate CA\(s\) below it \(pathLenConstraint\), the chain has 1/);
  });

  it('a model certificate whose keyUsage allows neither keyAgreement nor digitalSignature', async () => {
    const message = await refusal(leafUnder(root, { keyUsage: KeyUsageFlags.keyCertSign }).pem, { trustAnchors: root.pem });
    expect(message).toMatch(/keyUsage \[keyCertSign\] allows neither keyAgreement nor digitalSignature/);
  });

  it('a critical extension that is not processed (nameConstraints)', async () => {
    const extension = new Extension({ extnID: '2.5.29.30', critical: true, extnValue: new OctetString(AsnConvert.serialize(new NameConstraints({}))) });
    const constrained = makeCertificate({ commonName: 'Constrained CA', issuer: root, ca: true, extensions: [extension] });
    expect(await refusal(leafUnder(constrained).pem + constrained.pem, { trustAnchors: root.pem })).toMatch(
      /"CN=Constrained CA" has a critical extension this library does not process: nameConstraints/,
    );
  });

  it('a SHA-1 signature is not accepted', async () => {
    // Relabel the signature algorithm (both copies) as sha1WithRSAEncryption: the OID alone decides.
    const made = leafUnder(rsaRoot);
    const der = Buffer.from(made.pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
    const sha256WithRsa = Buffer.from('06092a864886f70d01010b', 'hex');
    let at = der.indexOf(sha256WithRsa);
    while (at >= 0) {
      der[at + sha256WithRsa.length - 1] = 0x05; // …1.1.11 → …1.1.5 (sha1WithRSAEncryption), both places
      at = der.indexOf(sha256WithRsa, at + 1);
    }
    const pem = `-----BEGIN CERTIFICATE-----\n${der.toString('base64')}\n-----END CERTIFICATE-----\n`;
    expect(await refusal(pem, { trustAnchors: rsaRoot.pem })).toMatch(/signed with sha1WithRSAEncryption, which is not accepted/);
  });

  it('a chain that passed stops passing when one of its certificates expires (the memo is bounded by time)', async () => {
    const shortIntermediate = makeCertificate({ commonName: 'Short CA', issuer: root, ca: true, notAfter: new Date(Date.UTC(2027, 0, 1)) });
    const trust = trustOf({ trustAnchors: root.pem });
    const pem = leafUnder(shortIntermediate).pem + shortIntermediate.pem;
    await expect(trust.verify(pem, NOW, 'it')).resolves.toBeDefined();
    await expect(trust.verify(pem, Date.UTC(2027, 5, 1), 'it')).rejects.toThrow(/"CN=Short CA" expired/);
  });
});

describe('path building has a bounded cost (issue 11)', () => {
  /**
   * Counts the signature checks WebCrypto is asked for, each as "issuer key / signed bytes"
   * (the key by the SPKI it was imported from).
   */
  function countChecks(): { signed: string[]; restore: () => void } {
    const subtle = globalThis.crypto.subtle;
    const originalVerify = subtle.verify.bind(subtle);
    const originalImport = subtle.importKey.bind(subtle) as (...args: unknown[]) => Promise<CryptoKey>;
    const spkiOf = new WeakMap<CryptoKey, string>();
    const signed: string[] = [];
    const importSpy = vi.spyOn(subtle, 'importKey').mockImplementation((async (...args: unknown[]) => {
      const key = await originalImport(...args);
      if (args[0] === 'spki') spkiOf.set(key, Buffer.from(args[1] as Uint8Array).toString('base64'));
      return key;
    }) as SubtleCrypto['importKey']);
    const verifySpy = vi.spyOn(subtle, 'verify').mockImplementation((...args: Parameters<SubtleCrypto['verify']>) => {
      signed.push(`${spkiOf.get(args[1]) ?? '?'} / ${Buffer.from(args[3] as Uint8Array).toString('base64')}`);
      return originalVerify(...args);
    });
    return {
      signed,
      restore: () => {
        verifySpy.mockRestore();
        importSpy.mockRestore();
      },
    };
  }

  /** `count` CA certificates all named "Loop CA", all self-issued with one and the same key. */
  function loopCas(count: number): MadeCertificate[] {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return Array.from({ length: count }, () => makeCertificate({ commonName: 'Loop CA', ca: true, keyUsage: CA_USAGE, privateKey }));
  }

  let checks: ReturnType<typeof countChecks> | undefined;
  afterEach(() => {
    checks?.restore();
    checks = undefined;
  });

  it(`a service answer of a leaf and 16 CAs of one name and key is refused before any signature check (at most ${MAX_PEM_CERTIFICATES} certificates)`, async () => {
    const cas = loopCas(16);
    const pem = leafUnder(cas[0]!).pem + cas.map((ca) => ca.pem).join('');
    checks = countChecks();
    const message = await refusal(pem, { trustAnchors: root.pem });
    expect(message).toMatch(new RegExp(`its PEM holds 17 certificates; a chain has at most ${MAX_CHAIN_LENGTH}, and at most ${MAX_PEM_CERTIFICATES} are read`));
    expect(checks.signed).toHaveLength(0);
  });

  it.each([6, 16])('%i CAs of one name and key as intermediates: each (certificate, issuer key) pair is checked once', async (count) => {
    const cas = loopCas(count);
    checks = countChecks();
    const message = await refusal(leafUnder(cas[0]!).pem, { trustAnchors: root.pem, intermediates: cas.map((ca) => ca.pem) });
    expect(message).toMatch(/no trust anchor or intermediate is named "CN=Loop CA"/);
    // One key signed everything: the only pair to check is the leaf under that key.
    expect(checks.signed).toHaveLength(1);
    expect(checks.signed[0]).not.toMatch(/^\?/);
  });

  it(`and with an anchor of that name but another key: refused after at most ${MAX_SIGNATURE_CHECKS} signature checks`, async () => {
    const cas = loopCas(16);
    const impostor = makeCertificate({ commonName: 'Loop CA', ca: true, keyUsage: CA_USAGE });
    checks = countChecks();
    const message = await refusal(leafUnder(cas[0]!).pem, { trustAnchors: impostor.pem, intermediates: cas.map((ca) => ca.pem) });
    expect(message).toMatch(new RegExp(`stopped after ${MAX_SIGNATURE_CHECKS} signature checks`));
    expect(checks.signed.length).toBeLessThanOrEqual(MAX_SIGNATURE_CHECKS);
    expect(new Set(checks.signed).size).toBe(checks.signed.length);
  });

  it('a real chain among decoys of the same name still passes, with few checks', async () => {
    const decoys = [1, 2, 3].map(() => makeCertificate({ commonName: 'Test Intermediate CA', issuer: impostorRoot, ca: true, keyUsage: CA_USAGE }));
    checks = countChecks();
    const pem = leaf.pem + decoys.map((decoy) => decoy.pem).join('') + intermediate.pem;
    const verdict = await verify(pem, { trustAnchors: root.pem });
    expect(verdict.chain).toEqual(['CN=ep-model', 'CN=Test Intermediate CA', 'CN=Test Root CA']);
    expect(checks.signed.length).toBeLessThanOrEqual(8);
  });

  it('a failed verification is remembered: the same PEM again fails the same way without a signature check', async () => {
    const trust = trustOf({ trustAnchors: impostorRoot.pem });
    const pem = leaf.pem + intermediate.pem;
    const first = await trust.verify(pem, NOW, 'it').catch((caught: unknown) => caught as Error);
    expect(first).toBeInstanceOf(InvalidCertificateError);
    checks = countChecks();
    const again = await trust.verify(pem, NOW + DAY_MS, 'it').catch((caught: unknown) => caught as Error);
    expect(again).toBeInstanceOf(InvalidCertificateError);
    expect((again as Error).message).toBe((first as Error).message);
    expect(checks.signed).toHaveLength(0);
  });

  it('a success is remembered too: the same PEM again costs no signature check', async () => {
    const trust = trustOf({ trustAnchors: root.pem });
    const pem = leaf.pem + intermediate.pem;
    await trust.verify(pem, NOW, 'it');
    checks = countChecks();
    await expect(trust.verify(pem, NOW + DAY_MS, 'it')).resolves.toBeDefined();
    expect(checks.signed).toHaveLength(0);
  });

  it('a remembered failure lasts only until a certificate of the answer changes validity', async () => {
    const later = Date.UTC(2027, 0, 1);
    const future = makeCertificate({ commonName: 'Future CA', issuer: root, ca: true, notBefore: new Date(later) });
    const trust = trustOf({ trustAnchors: root.pem });
    const pem = leafUnder(future).pem + future.pem;
    await expect(trust.verify(pem, NOW, 'it')).rejects.toThrow(/"CN=Future CA" is not valid yet/);
    await expect(trust.verify(pem, later - 1, 'it')).rejects.toThrow(/"CN=Future CA" is not valid yet/);
    await expect(trust.verify(pem, later, 'it')).resolves.toBeDefined();
  });
});

describe('pinned keys', () => {
  it('a matching pin passes, with or without a sha256/ prefix', async () => {
    await expect(verify(selfSigned.pem, { pinnedKeys: [pinOf(otherRoot.pem), pinOf(selfSigned.pem)] })).resolves.toBeDefined();
    await expect(verify(selfSigned.pem, { pinnedKeys: [`sha256/${pinOf(selfSigned.pem)}`] })).resolves.toBeDefined();
  });

  it('a pin that itself starts with "/" keeps it after the sha256/ prefix', () => {
    // 32 bytes whose base64 starts with '/': the prefix must be taken off once, exactly.
    const pin = Buffer.alloc(32, 0xff).toString('base64');
    expect(pin.startsWith('/')).toBe(true);
    expect(() => CertificateTrust.from({ pinnedKeys: [`sha256/${pin}`] })).not.toThrow();
  });

  it('a mismatch fails and shows the certificate pin, so the configuration can be updated', async () => {
    const message = await refusal(selfSigned.pem, { pinnedKeys: [pinOf(otherRoot.pem)] });
    expect(message).toContain(`its public key pin is "${pinOf(selfSigned.pem)}", which is not in pinnedKeys (1 pin(s))`);
  });

  it('the pin is of the model certificate, not of a certificate after it in the PEM', async () => {
    await refusal(leaf.pem + intermediate.pem, { pinnedKeys: [pinOf(intermediate.pem)] });
  });

  it('pins alone do not look at the chain or the dates', async () => {
    const expired = leafUnder(root, { notAfter: new Date(Date.UTC(2021, 0, 1)), notBefore: new Date(Date.UTC(2020, 0, 1)) });
    await expect(verify(expired.pem, { pinnedKeys: [pinOf(expired.pem)] })).resolves.toBeDefined();
  });

  it('with both set, both must pass', async () => {
    const both = (pins: string[], anchor: string): TrustOptions => ({ pinnedKeys: pins, trustAnchors: anchor, intermediates: intermediate.pem });
    await expect(verify(leaf.pem, both([pinOf(leaf.pem)], root.pem))).resolves.toBeDefined();
    expect(await refusal(leaf.pem, both([pinOf(selfSigned.pem)], root.pem))).toMatch(/pin/);
    expect(await refusal(leaf.pem, both([pinOf(leaf.pem)], impostorRoot.pem))).toMatch(/signature does not verify/);
  });
});

describe('settings that cannot be right are refused at once', () => {
  it.each<[string, TrustOptions, RegExp]>([
    ['empty trustAnchors', { trustAnchors: [] }, /trustAnchors is empty/],
    ['trustAnchors without a PEM block', { trustAnchors: 'not a certificate' }, /trustAnchors holds no '-----BEGIN CERTIFICATE-----' block/],
    ['a trust anchor that is not a certificate', { trustAnchors: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----' }, /trustAnchors: certificate 1 is not a DER X.509 certificate/],
    ['empty pinnedKeys', { pinnedKeys: [] }, /pinnedKeys is empty/],
    ['a pin that is not a SHA-256 digest', { pinnedKeys: ['abc'] }, /pinnedKeys: "abc" is not a base64 SHA-256 digest/],
    ['a hex pin', { pinnedKeys: ['ab'.repeat(32)] }, /is not a base64 SHA-256 digest/],
    ['intermediates without trustAnchors', { intermediates: intermediate.pem }, /intermediates are set without trustAnchors/],
  ])('%s', (_name, options, expected) => {
    expect(() => CertificateTrust.from(options)).toThrow(InvalidCertificateError);
    expect(() => CertificateTrust.from(options)).toThrow(expected);
  });

  it('nothing configured: no checks', () => {
    expect(CertificateTrust.from({})).toBeUndefined();
    expect(CertificateTrust.from({ trustAnchors: undefined, pinnedKeys: undefined })).toBeUndefined();
  });

  it('createEncryptedFetch refuses bad settings when it is made', () => {
    expect(() => createEncryptedFetch({ errors: 'throw', pinnedKeys: ['nope'], cacheDir: false })).toThrow(InvalidCertificateError);
  });
});

describe('PEM texts with several certificates', () => {
  it('splitPemCertificates keeps each block, in order, and nothing else', () => {
    const text = `intro\n${leaf.pem}junk\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n${intermediate.pem}`;
    expect(splitPemCertificates(text).map((block) => block.trim())).toEqual([leaf.pem.trim(), intermediate.pem.trim()]);
  });

  it('a megabyte of BEGIN lines with no END is one linear scan (the regular expression before was quadratic: 16 000 lines took 11 s)', () => {
    const hostile = '-----BEGIN CERTIFICATE-----\n'.repeat(40_000);
    expect(hostile.length).toBeGreaterThan(1024 * 1024);
    expect(splitPemCertificates(hostile)).toEqual([]);
    expect(splitPemCertificates(hostile + leaf.pem)).toHaveLength(1);
    expect(() => parseModelCertificate(hostile)).toThrow(InvalidCertificateError);
  });

  it('parseModelCertificate takes the first block as the model certificate and keeps the whole text', () => {
    const bundle = leaf.pem + intermediate.pem;
    const cert = parseModelCertificate(bundle);
    expect(Buffer.from(cert.publicKey)).toEqual(Buffer.from(leaf.publicKeyRaw));
    expect(cert.pem).toBe(bundle);
    expect(parseModelCertificate(leaf.pem).pem).toBe(leaf.pem);
  });
});

describe('through CertificateSource: every source is checked, nothing untrusted is kept', () => {
  const BASE = 'https://ark.example.com/api/v3';
  const need = (extra: Partial<CertificateNeed> = {}): CertificateNeed => ({
    model: 'ep-model', aicc: false, baseUrl: BASE, authorization: 'Bearer key-1', ...extra,
  });
  const trust = CertificateTrust.from({ trustAnchors: root.pem, intermediates: intermediate.pem });
  const time = (): (() => number) => () => NOW;

  it('the certificate option: refused, and the service is not asked', async () => {
    const { http, calls } = fakeHttp(okReply(leaf.pem));
    const source = new CertificateSource({ certificate: selfSigned.pem, http, trust, now: time() });
    await expect(source.get(need())).rejects.toThrow(/^the certificate option for model "ep-model" is not trusted: it is self-signed/);
    expect(calls).toHaveLength(0);
    const good = new CertificateSource({ certificate: () => leaf.pem, http, trust, now: time() });
    expect((await good.get(need())).pem).toBe(leaf.pem);
  });

  it('the service: refused, neither written to disk nor kept in memory (the next request asks again)', async () => {
    const { http, calls } = fakeHttp(okReply(selfSigned.pem));
    const { store, files, counts } = memoryStore();
    const source = new CertificateSource({ store, http, trust, now: time() });
    await expect(source.get(need())).rejects.toThrow(/^the certificate the service gave for model "ep-model" is not trusted/);
    await expect(source.get(need())).rejects.toThrow(InvalidCertificateError);
    expect(calls).toHaveLength(2);
    expect(counts.write).toBe(0);
    expect(files.size).toBe(0);
  });

  it('the service giving the chain in its PEM: trusted, and the whole chain is cached', async () => {
    const bundle = leaf.pem + intermediate.pem;
    const { http } = fakeHttp(okReply(bundle));
    const { store, files } = memoryStore();
    const source = new CertificateSource({ store, http, trust: CertificateTrust.from({ trustAnchors: root.pem }), now: time() });
    expect((await source.get(need())).pem).toBe(bundle);
    expect(files.get('ep-model')?.pem).toBe(bundle);
  });

  it('the disk: an untrusted cached certificate is fetched afresh and replaced', async () => {
    const { http, calls } = fakeHttp(okReply(leaf.pem));
    const { store, files, counts } = memoryStore({ 'ep-model': { pem: PLAIN, modifiedMs: NOW } });
    const source = new CertificateSource({ store, http, trust, now: time() });
    expect((await source.get(need())).pem).toBe(leaf.pem);
    expect(counts.write).toBe(1);
    expect(calls).toHaveLength(1);
    expect(files.get('ep-model')?.pem).toBe(leaf.pem);
  });

  it('the disk: a trusted cached certificate is used as before', async () => {
    const { http, calls } = fakeHttp(okReply(PLAIN));
    const { store } = memoryStore({ 'ep-model': { pem: leaf.pem, modifiedMs: NOW } });
    const source = new CertificateSource({ store, http, trust, now: time() });
    expect((await source.get(need())).pem).toBe(leaf.pem);
    expect(calls).toHaveLength(0);
  });

  it('the disk and the service both untrusted: refused, nothing written (the file is never used)', async () => {
    const { http } = fakeHttp(okReply(PLAIN));
    const { store, files, counts } = memoryStore({ 'ep-model': { pem: selfSigned.pem, modifiedMs: NOW } });
    const source = new CertificateSource({ store, http, trust, now: time() });
    await expect(source.get(need())).rejects.toThrow(InvalidCertificateError);
    await expect(source.get(need())).rejects.toThrow(InvalidCertificateError);
    expect(counts.write).toBe(0);
    expect(files.get('ep-model')?.pem).toBe(selfSigned.pem);
  });

  it('memory holds a certificate only while its whole chain is valid', async () => {
    const shortIntermediate = makeCertificate({ commonName: 'Short CA', issuer: root, ca: true, notAfter: new Date(NOW + 3 * DAY_MS) });
    const shortLeaf = leafUnder(shortIntermediate);
    const { http, calls } = fakeHttp((_request, index) => okReply(index === 0 ? shortLeaf.pem + shortIntermediate.pem : leaf.pem));
    const hands = clock(NOW);
    const source = new CertificateSource({ http, trust, now: hands.now });
    await source.get(need());
    await source.get(need());
    expect(calls).toHaveLength(1);
    hands.advance(4 * DAY_MS);
    expect((await source.get(need())).pem).toBe(leaf.pem);
    expect(calls).toHaveLength(2);
  });
});

describe('end to end: createEncryptedFetch against the mock server', () => {
  const API_KEY = 'trust-test-key';
  let server: MockArkServer;
  let tmp: string;

  beforeAll(async () => {
    server = await startMockArkServer({ apiKey: API_KEY });
  });
  afterAll(async () => {
    await server.close();
  });
  beforeEach(async () => {
    vi.stubEnv('E2E_CERTIFICATE_PATH', '');
    vi.stubEnv('VOLC_ARK_ENCRYPTION', '');
    server.requests.length = 0;
    tmp = await tempDir();
  });
  afterEach(async () => {
    vi.unstubAllEnvs();
    await removeDir(tmp);
  });

  const send = (fetchFn: typeof fetch, text = 'trusted?'): Promise<Response> => chat(fetchFn, server.url, { text, key: API_KEY });

  it('the server certificate as its own trust anchor: the request goes through and decrypts', async () => {
    const fetchFn = createEncryptedFetch({ errors: 'throw', trustAnchors: [server.certificatePem], cacheDir: false });
    expect(await contentOf(await send(fetchFn))).toBe('echo: trusted?');
    expect(chatRequests(server)).toHaveLength(1);
  });

  it('another root: InvalidCertificateError, and the chat endpoint got nothing', async () => {
    const fetchFn = createEncryptedFetch({ errors: 'throw', trustAnchors: [root.pem], cacheDir: false });
    const error = await send(fetchFn).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidCertificateError);
    expect((error as Error).message).toMatch(/the certificate the service gave for model "mock-model" is not trusted: it is self-signed/);
    expect(certificateRequests(server)).toHaveLength(1);
    expect(chatRequests(server)).toHaveLength(0);
  });

  it('the right pin goes through; a wrong one fails with the server pin, and nothing is sent', async () => {
    const pin = pinOf(server.certificatePem);
    expect(await contentOf(await send(createEncryptedFetch({ errors: 'throw', pinnedKeys: [pin], cacheDir: false })))).toBe('echo: trusted?');
    expect(chatRequests(server)).toHaveLength(1);
    const error = await send(createEncryptedFetch({ errors: 'throw', pinnedKeys: [pinOf(root.pem)], cacheDir: false })).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidCertificateError);
    expect((error as Error).message).toContain(pin);
    expect(chatRequests(server)).toHaveLength(1);
  });

  it('a certificate cached on disk before trust was configured is replaced by a trusted one', async () => {
    const cacheDir = join(tmp, 'certs');
    const file = originCacheFile(cacheDir, server.url);
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    await writeFile(file, PLAIN, { mode: 0o600 });
    const fetchFn = createEncryptedFetch({ errors: 'throw', trustAnchors: server.certificatePem, cacheDir, onWarning: () => undefined });
    expect(await contentOf(await send(fetchFn))).toBe('echo: trusted?');
    expect(certificateRequests(server)).toHaveLength(1);
    expect(await readFile(file, 'utf8')).toBe(server.certificatePem);
  });

  it('an untrusted certificate from the service is not cached on disk', async () => {
    const cacheDir = join(tmp, 'certs');
    const fetchFn = createEncryptedFetch({ errors: 'throw', trustAnchors: root.pem, cacheDir, onWarning: () => undefined });
    await expect(send(fetchFn)).rejects.toThrow(InvalidCertificateError);
    await expect(readFile(originCacheFile(cacheDir, server.url), 'utf8')).rejects.toThrow(/ENOENT/);
    expect(chatRequests(server)).toHaveLength(0);
  });
});

describe('runtime-neutral', () => {
  it.each(['certificates/trust.ts', 'certificates/trust-certificate.ts', 'certificates/trust-check.ts', 'certificates/trust-problems.ts', 'certificates/trust-path.ts', 'certificates/signature.ts', 'protocol/der.ts'])(
    '%s imports no node: module (WebCrypto and the asn1 packages only)',
    async (file) => {
      const source = await readFile(join(import.meta.dirname, '../../src', file), 'utf8');
      const imports = [...source.matchAll(/^import [^;]* from '([^']+)';$/gm)].map((match) => match[1]);
      if (file !== 'protocol/der.ts') expect(imports.length).toBeGreaterThan(0);
      expect(imports.filter((name) => name?.startsWith('node:'))).toEqual([]);
      // A mutation run (npm run mutate) reads a copy whose preamble is Stryker's, not ours.
      if (!source.includes('__stryker__')) expect(source).not.toMatch(/\brequire\(|(?<!Array)Buffer\b|\bprocess\./);
    },
  );
});
