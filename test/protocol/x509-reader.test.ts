/**
 * The narrow DER/X.509/PEM readers (src/protocol/der.ts, x509.ts, x509-extensions.ts, pem.ts)
 * against an oracle: certificates made with @peculiar/asn1-x509 and node:crypto
 * (test/helpers/make-certificate.ts), each field we read compared with what node:crypto's
 * X509Certificate reads. Hostile bytes (random, truncated, bit-flipped) give a DerError or a
 * result, never another exception.
 */
import { X509Certificate, createPublicKey, verify } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DerError, childrenOf, decodeOid, readTlv } from '../../src/protocol/der.js';
import { encodePem, pemBlockDer, splitPemCertificates } from '../../src/protocol/pem.js';
import { readX509 } from '../../src/protocol/x509.js';
import { EXTENSION_OID, findExtension, readBasicConstraints, readKeyUsage, readSanDnsNames } from '../../src/protocol/x509-extensions.js';
import { makeCertificate } from '../helpers/make-certificate.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 40);

const dnsLabel = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/);
const certificateOptions = fc.record({
  commonName: fc.string({ minLength: 1, maxLength: 40 }),
  curve: fc.constantFrom('P-256' as const, 'P-384' as const),
  dnsNames: fc.array(dnsLabel, { maxLength: 4 }),
  ca: fc.option(fc.oneof(fc.boolean(), fc.record({ pathLen: fc.integer({ min: 0, max: 1000 }) })), { nil: undefined }),
  keyUsage: fc.option(fc.integer({ min: 1, max: 511 }), { nil: undefined }),
  notBefore: fc.date({ min: new Date('1950-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }),
  lifetimeDays: fc.integer({ min: 1, max: 20000 }),
  hash: fc.constantFrom('sha256' as const, 'sha384' as const, 'sha512' as const),
});

function derOf(pem: string): Uint8Array {
  const [block] = splitPemCertificates(pem);
  const der = block === undefined ? undefined : pemBlockDer(block);
  if (der === undefined) throw new Error('test certificate has no PEM block');
  return der;
}

/** What node:crypto (OpenSSL) prints as the serial: hex, uppercase, no sign byte. */
function serialHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex').toUpperCase().replace(/^(00)+(?=.)/, '');
}

describe('X.509 reader against node:crypto', () => {
  it('every field read equals what node:crypto reads, and the signature verifies over the tbs bytes read', () => {
    fc.assert(
      fc.property(certificateOptions, (options) => {
        const notBefore = new Date(Math.floor(options.notBefore.getTime() / 1000) * 1000);
        const notAfter = new Date(notBefore.getTime() + options.lifetimeDays * 86_400_000);
        const made = makeCertificate({ ...options, notBefore, notAfter });
        const oracle = new X509Certificate(made.pem);
        const certificate = readX509(derOf(made.pem));
        expect(Buffer.from(certificate.der).equals(oracle.raw)).toBe(true);
        expect(certificate.version).toBe(3);
        expect(serialHex(certificate.serialNumber)).toBe(oracle.serialNumber.toUpperCase());
        expect(certificate.notBefore.getTime()).toBe(new Date(oracle.validFrom).getTime());
        expect(certificate.notAfter.getTime()).toBe(new Date(oracle.validTo).getTime());
        const spki = oracle.publicKey.export({ type: 'spki', format: 'der' });
        expect(Buffer.from(certificate.spki).equals(spki)).toBe(true);
        expect(Buffer.from(certificate.publicKey)).toEqual(Buffer.from(made.publicKeyRaw));
        const cn = certificate.subjectAttributes.find((attribute) => attribute.oid === '2.5.4.3');
        expect(cn?.value).toBe(options.commonName);
        expect(certificate.issuer).toEqual(certificate.subject); // self-signed
        const san = findExtension(certificate, EXTENSION_OID.subjectAltName);
        const oracleDns = (oracle.subjectAltName ?? '').split(', ').filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4));
        expect(san === undefined ? [] : readSanDnsNames(san.value)).toEqual(oracleDns);
        const constraints = findExtension(certificate, EXTENSION_OID.basicConstraints);
        // OpenSSL's `ca` also asks keyUsage for keyCertSign when there is a keyUsage.
        const signsCertificates = options.keyUsage === undefined || (options.keyUsage & 32) !== 0;
        expect(constraints === undefined ? false : readBasicConstraints(constraints.value).ca && signsCertificates).toBe(oracle.ca);
        if (typeof options.ca === 'object') expect(readBasicConstraints(constraints!.value).pathLength).toBe(options.ca.pathLen);
        const usage = findExtension(certificate, EXTENSION_OID.keyUsage);
        expect(usage === undefined ? undefined : readKeyUsage(usage.value)).toBe(options.keyUsage);
        const key = createPublicKey({ key: Buffer.from(certificate.spki), format: 'der', type: 'spki' });
        expect(verify(options.hash, certificate.tbs, key, certificate.signature)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
});

/** Calls `read`; anything thrown but a DerError fails the property. */
function onlyDerErrors(read: () => unknown): void {
  try {
    read();
  } catch (error) {
    if (!(error instanceof DerError)) throw error;
    expect(error.code).toBe('ERR_ARK_E2EE_INVALID_CERTIFICATE');
  }
}

describe('X.509 reader on hostile bytes', () => {
  const sample = derOf(makeCertificate({ dnsNames: ['ring.r', 'key.k'], ca: { pathLen: 1 }, keyUsage: 33 }).pem);

  it('random bytes give a DerError or a certificate, never another exception', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => onlyDerErrors(() => readX509(bytes))), { numRuns: RUNS * 25 });
  });

  it('every truncation of a certificate is refused with a DerError', () => {
    for (let length = 0; length < sample.length; length++) {
      expect(() => readX509(sample.subarray(0, length))).toThrow(DerError);
    }
  });

  it('bit flips give a DerError or a certificate, never another exception', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: sample.length * 8 - 1 }), { minLength: 1, maxLength: 4 }), (bits) => {
        const flipped = sample.slice();
        for (const bit of bits) flipped[bit >> 3]! ^= 0x80 >> (bit & 7);
        onlyDerErrors(() => {
          const certificate = readX509(flipped);
          for (const extension of certificate.extensions) {
            if (extension.oid === EXTENSION_OID.basicConstraints) readBasicConstraints(extension.value);
            if (extension.oid === EXTENSION_OID.keyUsage) readKeyUsage(extension.value);
            if (extension.oid === EXTENSION_OID.subjectAltName) readSanDnsNames(extension.value);
          }
        });
      }),
      { numRuns: RUNS * 25 },
    );
  });

  it('a trailing byte, an indefinite or a non-minimal length is refused', () => {
    expect(() => readX509(Uint8Array.of(...sample, 0))).toThrow(/stray bytes/);
    expect(() => readTlv(Uint8Array.of(0x30, 0x80, 0, 0), 0)).toThrow(/indefinite/);
    expect(() => readTlv(Uint8Array.of(0x04, 0x81, 0x01, 0), 0)).toThrow(/non-minimal/);
    expect(() => childrenOf(Uint8Array.of(0x04, 0x00), readTlv(Uint8Array.of(0x04, 0x00), 0))).toThrow(DerError);
  });
});

describe('OBJECT IDENTIFIER decoding', () => {
  it('round-trips any OID node:crypto-independent encoding builds', () => {
    const arc = fc.integer({ min: 0, max: 2 ** 40 });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 39 }), fc.array(arc, { maxLength: 8 }), (a, b, rest) => {
        const base128 = (value: number): number[] => {
          const out = [value % 128];
          for (let v = Math.floor(value / 128); v > 0; v = Math.floor(v / 128)) out.unshift((v % 128) | 0x80);
          return out;
        };
        const body = [a * 40 + b, ...rest].flatMap(base128);
        expect(decodeOid(Uint8Array.of(0x06, body.length, ...body))).toBe([a, b, ...rest].join('.'));
      }),
      { numRuns: RUNS * 10 },
    );
  });

  it('refuses a non-minimal arc, a cut arc and stray bytes', () => {
    expect(decodeOid(Uint8Array.of(0x06, 0x02, 0x2a, 0x80))).toBeUndefined();
    expect(decodeOid(Uint8Array.of(0x06, 0x03, 0x2a, 0x80, 0x01))).toBeUndefined();
    expect(decodeOid(Uint8Array.of(0x06, 0x01, 0x2a, 0x00))).toBeUndefined();
    expect(decodeOid(Uint8Array.of(0x06, 0x00))).toBeUndefined();
  });
});

describe('PEM reader', () => {
  it('encodePem and pemBlockDer round-trip any bytes; splitPemCertificates finds every block with text around them', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 5 }), fc.string(), (ders, noise) => {
        const safeNoise = noise.replace(/-/g, '');
        const text = ders.map((der) => `${safeNoise}\r\n${encodePem(der)}`).join('') + safeNoise;
        const blocks = splitPemCertificates(text);
        expect(blocks.map((block) => pemBlockDer(block))).toEqual(ders);
      }),
      { numRuns: RUNS * 5 },
    );
  });

  it('a body that is not canonical base64 or is empty gives undefined, never a partial result', () => {
    fc.assert(
      fc.property(fc.string(), (body) => {
        const der = pemBlockDer(`-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----`);
        if (der !== undefined) expect(Buffer.from(der).toString('base64')).toBe(body.replace(/\s+/g, ''));
      }),
      { numRuns: RUNS * 10 },
    );
  });
});
