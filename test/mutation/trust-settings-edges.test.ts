/**
 * CertificateTrust's settings and its memo (src/certificates/trust.ts), as a mutation run found
 * them untested: the shape refusals of trustAnchors, intermediates and pinnedKeys with their
 * words, the pin's spelling rules, certificateKeyPin's refusals, and the exact bounds of what the
 * memo remembers (a verdict for its chain's validity, a failure for its steady span, 64 PEM texts).
 * What the memo saves is counted as WebCrypto signature checks.
 */
import { KeyUsageFlags } from '@peculiar/asn1-x509';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CertificateTrust, certificateKeyPin, type TrustOptions } from '../../src/certificates/trust.js';
import { DerError } from '../../src/protocol/der.js';
import { InvalidCertificateError } from '../../src/errors.js';
import { makeCertificate } from '../helpers/make-certificate.js';

const CA_USAGE = KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign;
const LEAF_USAGE = KeyUsageFlags.keyAgreement | KeyUsageFlags.digitalSignature;
const at = (iso: string): number => Date.parse(iso);

const root = makeCertificate({
  commonName: 'Edge Root CA', ca: true, keyUsage: CA_USAGE,
  notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2027-01-01T00:00:00Z'),
});
const leaf = makeCertificate({
  commonName: 'ep-edge', issuer: root, keyUsage: LEAF_USAGE,
  notBefore: new Date('2026-03-01T00:00:00Z'), notAfter: new Date('2026-09-01T00:00:00Z'),
});
/** Same issuer name, another key: its signature never verifies under `root`. */
const impostor = makeCertificate({ commonName: 'Edge Root CA', ca: true, keyUsage: CA_USAGE });
const forged = makeCertificate({
  commonName: 'ep-edge', issuer: impostor, keyUsage: LEAF_USAGE,
  notBefore: new Date('2026-03-01T00:00:00Z'), notAfter: new Date('2026-09-01T00:00:00Z'),
});
const GARBAGE_PEM = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';

function refusalOf(run: () => unknown): InvalidCertificateError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidCertificateError);
    expect((error as InvalidCertificateError).code).toBe('ERR_ARK_E2EE_INVALID_CERTIFICATE');
    return error as InvalidCertificateError;
  }
  throw new Error('expected a refusal');
}
const settingsRefusal = (options: TrustOptions): string => refusalOf(() => CertificateTrust.from(options)).message;

afterEach(() => {
  vi.restoreAllMocks();
});

describe('settings of the wrong shape are refused by name', () => {
  it('trustAnchors and intermediates that are neither a PEM string nor an array of them', () => {
    const shape = (what: string) => `${what} must be a PEM string or an array of PEM strings`;
    expect(settingsRefusal({ trustAnchors: 42 as never })).toBe(shape('trustAnchors'));
    expect(settingsRefusal({ trustAnchors: [root.pem, 7] as never })).toBe(shape('trustAnchors'));
    expect(settingsRefusal({ trustAnchors: [7, root.pem] as never })).toBe(shape('trustAnchors'));
    expect(settingsRefusal({ trustAnchors: root.pem, intermediates: { pem: root.pem } as never })).toBe(shape('intermediates'));
  });

  it('an empty trustAnchors list says so, not that it holds no block', () => {
    expect(settingsRefusal({ trustAnchors: [] })).toBe(
      'trustAnchors is empty: give at least one root certificate, or leave trustAnchors out',
    );
  });

  it('an anchor that is not a certificate names its place and keeps the reader error as cause', () => {
    const error = refusalOf(() => CertificateTrust.from({ trustAnchors: [root.pem, GARBAGE_PEM] }));
    expect(error.message).toMatch(/^trustAnchors: certificate 2 is not a DER X\.509 certificate \(.+\)$/);
    expect(error.cause).toBeInstanceOf(DerError);
    expect(error.message).toContain((error.cause as Error).message);
  });

  it('pinnedKeys that is not an array, and a pin that is not text', () => {
    const pin = 'A'.repeat(43) + '=';
    expect(settingsRefusal({ pinnedKeys: pin as never })).toBe('pinnedKeys must be an array of base64 SHA-256 pins');
    expect(settingsRefusal({ pinnedKeys: [42] as never })).toBe(
      "pinnedKeys: 42 is not a base64 SHA-256 digest (44 characters ending in '='); " +
        '`ark-e2ee cert MODEL` shows the pin of a model certificate',
    );
  });
});

describe('how a pin may be written', () => {
  it('blanks around it and an upper-case SHA256/ prefix are dropped, and it still matches', async () => {
    const pin = await certificateKeyPin(leaf.pem);
    for (const written of [`  ${pin}\n`, `SHA256/${pin}`, ` sha256/${pin} `]) {
      const trust = CertificateTrust.from({ pinnedKeys: [written] })!;
      await expect(trust.verify(leaf.pem, at('2026-06-01T00:00:00Z'), 'the model certificate')).resolves.toMatchObject({ pin });
    }
  });

  it('"sha256/" inside a pin is part of the pin: only a leading one is a prefix', () => {
    const pin = `AAAAsha256/${'A'.repeat(32)}=`;
    expect(pin).toHaveLength(44);
    expect(CertificateTrust.from({ pinnedKeys: [pin] })).toBeInstanceOf(CertificateTrust);
  });
});

describe('certificateKeyPin refuses what has no certificate', () => {
  it('a text without a CERTIFICATE block, and a block that is not DER', async () => {
    await expect(certificateKeyPin('no certificate here')).rejects.toThrow(
      new InvalidCertificateError("no '-----BEGIN CERTIFICATE-----' block"),
    );
    const error = await certificateKeyPin(GARBAGE_PEM).then(() => undefined, (caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidCertificateError);
    expect((error as Error).message).toMatch(/^not a DER X\.509 certificate \(.+\)$/);
    expect((error as Error).cause).toBeInstanceOf(DerError);
  });
});

/** Counts WebCrypto signature checks from here on. */
function countChecks(): () => number {
  const verify = vi.spyOn(globalThis.crypto.subtle, 'verify');
  return () => verify.mock.calls.length;
}

describe('the memo remembers exactly as long as the outcome holds', () => {
  const validFrom = at('2026-03-01T00:00:00Z');
  const validUntil = at('2026-09-01T00:00:00Z');

  it('a verdict: to the millisecond of its chain validity, both ends included, and not a millisecond more', async () => {
    const trust = CertificateTrust.from({ trustAnchors: root.pem })!;
    const checks = countChecks();
    await expect(trust.verify(leaf.pem, validFrom, 'm')).resolves.toMatchObject({ validFromMs: validFrom, validUntilMs: validUntil });
    expect(checks()).toBe(1);
    await trust.verify(leaf.pem, validFrom, 'm');
    await trust.verify(leaf.pem, validUntil, 'm');
    expect(checks()).toBe(1);
    // A clock set back before the chain's validity gets no remembered verdict.
    await expect(trust.verify(leaf.pem, validFrom - 1, 'm')).rejects.toThrow(/"CN=ep-edge" is not valid yet/);
    const later = CertificateTrust.from({ trustAnchors: root.pem })!;
    await later.verify(leaf.pem, validUntil, 'm');
    await expect(later.verify(leaf.pem, validUntil + 1, 'm')).rejects.toThrow(/"CN=ep-edge" expired on 2026-09-01T00:00:00\.000Z/);
  });

  it('a failure: within its steady span only, its start included, its end not, and not before it', async () => {
    const trust = CertificateTrust.from({ trustAnchors: root.pem })!;
    const checks = countChecks();
    const refused = /is not trusted: link 1 .*its signature does not verify under the key of "CN=Edge Root CA"; nothing was sent$/;
    // The span around June: from the forged leaf's notBefore to its notAfter + 1 ms.
    await expect(trust.verify(forged.pem, at('2026-06-01T00:00:00Z'), 'm')).rejects.toThrow(refused);
    expect(checks()).toBe(1);
    await expect(trust.verify(forged.pem, validFrom, 'm')).rejects.toThrow(refused);
    await expect(trust.verify(forged.pem, validUntil, 'm')).rejects.toThrow(refused);
    expect(checks()).toBe(1);
    // Before the span the leaf is not valid yet: checked again, and refused for that.
    await expect(trust.verify(forged.pem, validFrom - 1, 'm')).rejects.toThrow(/"CN=ep-edge" is not valid yet/);
    // After it, expired: a new verdict again, not the remembered one.
    await expect(trust.verify(forged.pem, validUntil + 1, 'm')).rejects.toThrow(/"CN=ep-edge" expired on/);
  });

  it('holds 64 PEM texts: a 65th pushes out the oldest', async () => {
    const trust = CertificateTrust.from({ trustAnchors: root.pem })!;
    const now = at('2026-06-01T00:00:00Z');
    // Text after the END line is not part of the certificate, but it makes another memo key.
    const variant = (n: number): string => `${leaf.pem}variant ${n}\n`;
    const checks = countChecks();
    for (let n = 0; n < 64; n++) await trust.verify(variant(n), now, 'm');
    expect(checks()).toBe(64);
    await trust.verify(variant(0), now, 'm');
    await trust.verify(variant(63), now, 'm');
    expect(checks()).toBe(64);
    await trust.verify(variant(64), now, 'm');
    expect(checks()).toBe(65);
    await trust.verify(variant(1), now, 'm');
    expect(checks()).toBe(65);
    await trust.verify(variant(0), now, 'm');
    expect(checks()).toBe(66);
  });
});
