/**
 * The trust checks below CertificateTrust (trust-check.ts, trust-path.ts, trust-limits.ts,
 * trust-problems.ts), as a mutation run found them untested: the outcome of each refusal with
 * the time span it holds for, which of several failed paths is reported, the two budgets of path
 * building at their exact limits, and the bounds of validity and pathLenConstraint.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { KeyUsageFlags } from '@peculiar/asn1-x509';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { evaluateTrust, type TrustChecks } from '../../src/certificates/trust-check.js';
import { readCertificate, splitPemCertificates, type TrustCertificate } from '../../src/certificates/trust-certificate.js';
import { MAX_CHAIN_LENGTH, MAX_PEM_CERTIFICATES, MAX_SIGNATURE_CHECKS, pinOf, steadySpan, subtle } from '../../src/certificates/trust-limits.js';
import { issuerProblem, validityProblem } from '../../src/certificates/trust-problems.js';
import { InvalidCertificateError } from '../../src/errors.js';
import { makeCertificate, type MadeCertificate } from '../helpers/make-certificate.js';

const CA_USAGE = KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign;
const LEAF_USAGE = KeyUsageFlags.keyAgreement | KeyUsageFlags.digitalSignature;
const NOW = Date.UTC(2026, 5, 1);
const NEVER = { fromMs: Number.NEGATIVE_INFINITY, untilMs: Number.POSITIVE_INFINITY };

const read = (made: MadeCertificate): TrustCertificate => readCertificate(splitPemCertificates(made.pem)[0]!);
const checksOf = (anchors: MadeCertificate[] | undefined, intermediates: MadeCertificate[] = []): TrustChecks => ({
  anchors: anchors?.map(read),
  intermediates: intermediates.map(read),
  pins: undefined,
});
const ca = (commonName: string, more: Parameters<typeof makeCertificate>[0] = {}): MadeCertificate =>
  makeCertificate({ commonName, ca: true, keyUsage: CA_USAGE, ...more });

const root = ca('Edge Root CA');
const otherRoot = ca('Other Root CA');
const leaf = makeCertificate({ commonName: 'ep-edge', issuer: root, keyUsage: LEAF_USAGE });
const GARBAGE_PEM = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('evaluateTrust: what each refusal holds for', () => {
  it('a PEM without a certificate, one of too many, one that cannot be read: refused for all time', async () => {
    const checks = checksOf([root]);
    await expect(evaluateTrust(checks, 'no certificate', NOW)).resolves.toEqual({
      why: "it holds no '-----BEGIN CERTIFICATE-----' block", ...NEVER,
    });
    const nine = leaf.pem + root.pem.repeat(MAX_PEM_CERTIFICATES);
    await expect(evaluateTrust(checks, nine, NOW)).resolves.toEqual({
      why: `its PEM holds 9 certificates; a chain has at most ${MAX_CHAIN_LENGTH}, and at most 8 are read ` +
        '(the model certificate first, then its own chain)',
      ...NEVER,
    });
    const first = await evaluateTrust(checks, GARBAGE_PEM, NOW);
    expect(first).toMatchObject(NEVER);
    expect((first as { why: string }).why).toMatch(/^it cannot be read \(.+\)$/);
    const second = await evaluateTrust(checks, leaf.pem + GARBAGE_PEM, NOW);
    expect(second).toMatchObject(NEVER);
    expect((second as { why: string }).why).toMatch(/^the extra certificate 2 of its PEM cannot be read \(.+\)$/);
  });

  it(`${MAX_PEM_CERTIFICATES} certificates in the PEM are read, and a repeated one is tried once`, async () => {
    const eight = leaf.pem + root.pem.repeat(MAX_PEM_CERTIFICATES - 1);
    const outcome = await evaluateTrust(checksOf([root]), eight, NOW);
    expect(outcome).toMatchObject({ verdict: { chain: ['CN=ep-edge', 'CN=Edge Root CA'] } });
  });

  it("a failure's span ends where any certificate involved, the anchors included, changes validity", async () => {
    const shortRoot = ca('Short Root CA', { notBefore: new Date(Date.UTC(2026, 0, 1)), notAfter: new Date(Date.UTC(2026, 6, 1)) });
    const orphan = makeCertificate({ commonName: 'ep-orphan', issuer: ca('Unknown CA'), keyUsage: LEAF_USAGE });
    const outcome = await evaluateTrust(checksOf([shortRoot]), orphan.pem, NOW);
    expect(outcome).toEqual({
      why: 'link 1 ("CN=ep-orphan" issued by "CN=Unknown CA"): no trust anchor or intermediate is named "CN=Unknown CA" ' +
        '(pass the intermediate CA certificates with the intermediates option)',
      fromMs: Date.UTC(2026, 0, 1),
      untilMs: Date.UTC(2026, 6, 1) + 1,
    });
  });

  it('a pin mismatch says what to do when the key changed on purpose', async () => {
    const checks: TrustChecks = { anchors: undefined, intermediates: [], pins: new Set(['A'.repeat(43) + '=']) };
    const pin = createHash('sha256').update(new X509Certificate(leaf.pem).publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
    await expect(evaluateTrust(checks, leaf.pem, NOW)).resolves.toEqual({
      why: `its public key pin is "${pin}", which is not in pinnedKeys (1 pin(s)). ` +
        'If the model key was changed on purpose, add this pin to pinnedKeys',
      ...NEVER,
    });
  });

  it('a model certificate that is one of several anchors is its own chain', async () => {
    const selfSigned = makeCertificate({ commonName: 'ep-self', keyUsage: LEAF_USAGE });
    const outcome = await evaluateTrust(checksOf([otherRoot, selfSigned]), selfSigned.pem, NOW);
    expect(outcome).toMatchObject({ verdict: { chain: ['CN=ep-self'] } });
  });
});

describe('path building reports the failure that got furthest, the first one on a tie', () => {
  // Two intermediates named "Mid CA": one really signed the leaf but leads nowhere (its root is
  // unknown), the other has another key. The first fails at link 2, the second at link 1.
  const lost = ca('Mid CA', { issuer: ca('Missing Root') });
  const wrongKey = ca('Mid CA');
  const underLost = makeCertificate({ commonName: 'ep-edge', issuer: lost, keyUsage: LEAF_USAGE });
  const deepest = 'link 2 ("CN=Mid CA" issued by "CN=Missing Root"): no trust anchor or intermediate is named "CN=Missing Root"';
  const badSignature = 'link 1 ("CN=ep-edge" issued by "CN=Mid CA"): its signature does not verify under the key of "CN=Mid CA"';

  it('the deeper failure, whichever candidate came first', async () => {
    for (const order of [[lost, wrongKey], [wrongKey, lost]]) {
      await expect(evaluateTrust(checksOf([otherRoot], order), underLost.pem, NOW)).resolves.toMatchObject({ why: deepest });
    }
  });

  it('on equal depth, the first candidate', async () => {
    const expired = ca('Mid CA', { notBefore: new Date(Date.UTC(2025, 0, 1)), notAfter: new Date(Date.UTC(2026, 0, 1)) });
    const underExpired = makeCertificate({ commonName: 'ep-edge', issuer: expired, keyUsage: LEAF_USAGE });
    const lapsed = 'link 1 ("CN=ep-edge" issued by "CN=Mid CA"): "CN=Mid CA" expired on 2026-01-01T00:00:00.000Z';
    await expect(evaluateTrust(checksOf([otherRoot], [expired, wrongKey]), underExpired.pem, NOW)).resolves.toMatchObject({ why: lapsed });
    await expect(evaluateTrust(checksOf([otherRoot], [wrongKey, expired]), underExpired.pem, NOW)).resolves.toMatchObject({ why: badSignature });
  });

  it('a self-signed intermediate that is not an anchor: its issuer is missing, said at its link without the hint', async () => {
    const selfCa = ca('Self CA');
    const under = makeCertificate({ commonName: 'ep-edge', issuer: selfCa, keyUsage: LEAF_USAGE });
    await expect(evaluateTrust(checksOf([otherRoot], [selfCa]), under.pem, NOW)).resolves.toMatchObject({
      why: 'link 2 ("CN=Self CA" issued by "CN=Self CA"): no trust anchor or intermediate is named "CN=Self CA"',
    });
  });
});

describe('the budgets of path building, at their limits', () => {
  // Certificates of one name and one key: one signature check for all of them, one link each.
  const impostorKey = ca('Edge Root CA').privateKey;
  const copies = Array.from({ length: 65 }, () => ca('Edge Root CA', { privateKey: impostorKey }));

  it('64 candidate issuers are looked at; the 65th stops the search', async () => {
    await expect(evaluateTrust(checksOf([otherRoot], copies.slice(0, 64)), leaf.pem, NOW)).resolves.toMatchObject({
      why: 'link 1 ("CN=ep-edge" issued by "CN=Edge Root CA"): its signature does not verify under the key of "CN=Edge Root CA"',
    });
    await expect(evaluateTrust(checksOf([otherRoot], copies), leaf.pem, NOW)).resolves.toMatchObject({
      why: 'path building stopped after looking at 64 candidate issuers without reaching a trust anchor; ' +
        'give the model certificate with its own chain only',
    });
  });

  it(`${MAX_SIGNATURE_CHECKS} signature checks are made; the next one stops the search`, async () => {
    const anchors = Array.from({ length: MAX_SIGNATURE_CHECKS + 1 }, () => ca('Edge Root CA'));
    const verify = vi.spyOn(globalThis.crypto.subtle, 'verify');
    await expect(evaluateTrust(checksOf(anchors), leaf.pem, NOW)).resolves.toMatchObject({
      why: `path building stopped after ${MAX_SIGNATURE_CHECKS} signature checks without reaching a trust anchor ` +
        '(the PEM offers too many candidate issuers); give the model certificate with its own chain only',
    });
    expect(verify).toHaveBeenCalledTimes(MAX_SIGNATURE_CHECKS);
    verify.mockRestore();
  });
});

describe('trust-limits', () => {
  it('without WebCrypto, the checks refuse to run and say what they need', () => {
    for (const crypto of [undefined, {}]) {
      vi.stubGlobal('crypto', crypto);
      expect(() => subtle()).toThrow(new InvalidCertificateError(
        'checking trustAnchors or pinnedKeys needs WebCrypto (globalThis.crypto.subtle), which this runtime does not have',
      ));
      vi.unstubAllGlobals();
    }
  });

  it('the pin is base64 SHA-256 of the SubjectPublicKeyInfo', async () => {
    const spki = new X509Certificate(leaf.pem).publicKey.export({ type: 'spki', format: 'der' });
    await expect(pinOf(new Uint8Array(spki))).resolves.toBe(createHash('sha256').update(spki).digest('base64'));
  });

  it('the steady span: a certificate changes at notBefore and at notAfter + 1 ms', () => {
    const valid = (from: number, until: number) => ({ notBefore: new Date(from), notAfter: new Date(until) }) as TrustCertificate;
    const one = [valid(1000, 2000)];
    expect(steadySpan(one, 999)).toEqual({ fromMs: Number.NEGATIVE_INFINITY, untilMs: 1000 });
    expect(steadySpan(one, 1000)).toEqual({ fromMs: 1000, untilMs: 2001 });
    expect(steadySpan(one, 2000)).toEqual({ fromMs: 1000, untilMs: 2001 });
    expect(steadySpan(one, 2001)).toEqual({ fromMs: 2001, untilMs: Number.POSITIVE_INFINITY });
    const two = [valid(1000, 5000), valid(3000, 4000)];
    expect(steadySpan(two, 3500)).toEqual({ fromMs: 3000, untilMs: 4001 });
    expect(steadySpan([...two].reverse(), 4500)).toEqual({ fromMs: 4001, untilMs: 5001 });
  });
});

describe('trust-problems at their bounds', () => {
  const dated = { name: 'CN=x', notBefore: new Date(1000), notAfter: new Date(2000) } as TrustCertificate;

  it('valid from notBefore to notAfter, both included', () => {
    expect(validityProblem(dated, 999)).toBe('"CN=x" is not valid yet (valid from 1970-01-01T00:00:01.000Z)');
    expect(validityProblem(dated, 1000)).toBeUndefined();
    expect(validityProblem(dated, 2000)).toBeUndefined();
    expect(validityProblem(dated, 2001)).toBe('"CN=x" expired on 1970-01-01T00:00:02.000Z');
  });

  it('pathLenConstraint: as many intermediates below as it says, none more; without one, any number', () => {
    const issuer = (pathLength: number | undefined) =>
      ({ name: 'CN=ca', basicConstraints: { ca: true, pathLength }, keyUsage: undefined }) as unknown as TrustCertificate;
    expect(issuerProblem(issuer(1), 1)).toBeUndefined();
    expect(issuerProblem(issuer(1), 2)).toBe('"CN=ca" allows 1 intermediate CA(s) below it (pathLenConstraint), the chain has 2');
    expect(issuerProblem(issuer(undefined), 1000)).toBeUndefined();
  });
});
