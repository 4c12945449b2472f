/**
 * parseCertificate (src/protocol/certificate.ts): the shared vectors, PEM tolerance, certificates
 * made at test time (AICC and not), and refusal of anything that is not a P-256 certificate.
 */
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';

import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';

import { InvalidCertificateError } from '../../src/errors.js';
import { parseCertificate } from '../../src/protocol/certificate.js';
import { makeCertificate } from '../helpers/make-certificate.js';

interface CertificateCase {
  name: string;
  kind: 'certificate';
  certificate: string;
  expect?: { public_key: string; ring_id: string; key_id: string; not_after: number };
  expect_error?: 'invalid_certificate';
}

const vectors = JSON.parse(
  readFileSync(new URL('../../vectors/certificate.json', import.meta.url), 'utf8'),
) as { cases: CertificateCase[] };

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

function expectInvalid(pem: string, message?: RegExp): void {
  let caught: unknown;
  try {
    parseCertificate(pem);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(InvalidCertificateError);
  const error = caught as InvalidCertificateError;
  expect(error.code).toBe('ERR_ARK_E2EE_INVALID_CERTIFICATE');
  expect(error.name).toBe('InvalidCertificateError');
  if (message) expect(error.message).toMatch(message);
}

function armour(body: string): string {
  return `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`;
}

function pemBody(pem: string): string {
  return pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
}

const plain = vectors.cases.find((c) => c.name === 'plain P-256 certificate');
if (!plain) throw new Error('vectors/certificate.json lacks the plain P-256 case');

describe('parseCertificate: vectors/certificate.json', () => {
  it('has cases', () => {
    expect(vectors.cases.length).toBeGreaterThan(0);
  });

  for (const c of vectors.cases) {
    it(c.name, () => {
      expect(c.kind).toBe('certificate');
      if (c.expect_error !== undefined) {
        expect(c.expect_error).toBe('invalid_certificate');
        expectInvalid(c.certificate);
        return;
      }
      const want = c.expect;
      if (!want) throw new Error(`case ${c.name} has neither expect nor expect_error`);
      const cert = parseCertificate(c.certificate);
      expect(hex(cert.publicKey)).toBe(want.public_key);
      expect(cert.ringId).toBe(want.ring_id);
      expect(cert.keyId).toBe(want.key_id);
      expect(cert.notAfter.getTime() / 1000).toBe(want.not_after);
      expect(cert.isAICC).toBe(want.ring_id !== '' && want.key_id !== '');
      expect(cert.pem).toBe(c.certificate);
    });
  }
});

describe('parseCertificate: PEM tolerance', () => {
  it('reads a PEM with CRLF line ends', () => {
    const crlf = plain.certificate.replace(/\n/g, '\r\n');
    const cert = parseCertificate(crlf);
    expect(hex(cert.publicKey)).toBe(plain.expect?.public_key);
    expect(cert.pem).toBe(crlf);
  });

  it('reads a PEM with text before and after the block, and surrounding whitespace', () => {
    const wrapped = `subject=CN = model\nissuer=CN = model\n  \n${plain.certificate}\n\ttrailing words\n`;
    expect(hex(parseCertificate(wrapped).publicKey)).toBe(plain.expect?.public_key);
  });

  it('reads a PEM whose body is on one line', () => {
    expect(hex(parseCertificate(armour(pemBody(plain.certificate))).publicKey)).toBe(plain.expect?.public_key);
  });

  it('returns a frozen object with a fresh public key', () => {
    const a = parseCertificate(plain.certificate);
    const b = parseCertificate(plain.certificate);
    expect(Object.isFrozen(a)).toBe(true);
    expect(a.publicKey).not.toBe(b.publicKey);
    a.publicKey[1] = (a.publicKey[1] ?? 0) ^ 0xff;
    expect(hex(b.publicKey)).toBe(plain.expect?.public_key);
  });

  it('works without Buffer (as in a browser)', async () => {
    vi.resetModules();
    vi.stubGlobal('Buffer', undefined);
    try {
      const module = await import('../../src/protocol/certificate.js');
      const cert = module.parseCertificate(plain.certificate.replace(/\n/g, '\r\n'));
      expect(Array.from(cert.publicKey, (b) => b.toString(16).padStart(2, '0')).join('')).toBe(plain.expect?.public_key);
    } finally {
      vi.unstubAllGlobals();
      vi.resetModules();
    }
  });
});

describe('parseCertificate: certificates made at test time', () => {
  it('the helper makes certificates node:crypto accepts and verifies', () => {
    const made = makeCertificate({ ringId: 'r', keyId: 'k' });
    const x509 = new X509Certificate(made.pem);
    expect(x509.verify(x509.publicKey)).toBe(true);
    expect(x509.subjectAltName).toBe('DNS:ring.r, DNS:key.k');
  });

  it('reads a fresh non-AICC P-256 certificate', () => {
    const notBefore = new Date(Date.UTC(2024, 5, 1, 12, 30, 15));
    const notAfter = new Date(Date.UTC(2049, 11, 31, 23, 59, 59));
    const made = makeCertificate({ commonName: 'ep-20240601-xxxx', notBefore, notAfter });
    const cert = parseCertificate(made.pem);
    expect(made.publicKeyRaw).toHaveLength(65);
    expect(hex(cert.publicKey)).toBe(hex(made.publicKeyRaw));
    expect(cert.ringId).toBe('');
    expect(cert.keyId).toBe('');
    expect(cert.isAICC).toBe(false);
    expect(cert.notBefore.getTime()).toBe(notBefore.getTime());
    expect(cert.notAfter.getTime()).toBe(notAfter.getTime());
  });

  it('reads a fresh AICC certificate, with a GeneralizedTime notAfter past 2049', () => {
    const notAfter = new Date(Date.UTC(2060, 0, 2, 3, 4, 5));
    const made = makeCertificate({ ringId: 'ring-abc', keyId: 'key-123', notAfter });
    const cert = parseCertificate(made.pem);
    expect(hex(cert.publicKey)).toBe(hex(made.publicKeyRaw));
    expect(cert.ringId).toBe('ring-abc');
    expect(cert.keyId).toBe('key-123');
    expect(cert.isAICC).toBe(true);
    expect(cert.notAfter.getTime()).toBe(notAfter.getTime());
  });

  it('is not AICC with only a ring id', () => {
    const cert = parseCertificate(makeCertificate({ ringId: 'ring-only' }).pem);
    expect(cert.ringId).toBe('ring-only');
    expect(cert.keyId).toBe('');
    expect(cert.isAICC).toBe(false);
  });

  it('ordinary SAN host names are not AICC ids', () => {
    const cert = parseCertificate(makeCertificate({ dnsNames: ['ark.example.com', 'api.example.com'] }).pem);
    expect(cert.ringId).toBe('');
    expect(cert.keyId).toBe('');
    expect(cert.isAICC).toBe(false);
    const half = parseCertificate(makeCertificate({ dnsNames: ['ring.r-1', 'api.example.com'] }).pem);
    expect([half.ringId, half.keyId, half.isAICC]).toEqual(['r-1', '', false]);
  });

  it('refuses a P-384 key, naming the curve', () => {
    const made = makeCertificate({ curve: 'P-384' });
    expect(made.publicKeyRaw).toHaveLength(97);
    expectInvalid(made.pem, /P-384 \(secp384r1\).*not P-256/);
  });
});

describe('parseCertificate: refusals', () => {
  it('refuses the empty string', () => {
    expectInvalid('', /not a PEM 'CERTIFICATE' block/);
  });

  it('refuses a PEM without its END line', () => {
    expectInvalid(plain.certificate.replace('-----END CERTIFICATE-----', ''), /truncated/);
  });

  it('refuses an empty block', () => {
    expectInvalid(armour(''), /empty/);
  });

  it('refuses two CERTIFICATE blocks', () => {
    expectInvalid(plain.certificate + plain.certificate, /more than one/);
  });

  it('refuses a body that is not base64', () => {
    expectInvalid(armour('this is not base64!'), /not valid base64/);
  });

  it('refuses random bytes inside the armour', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 512 }), (bytes) => {
        expectInvalid(armour(Buffer.from(bytes).toString('base64')));
      }),
    );
  });

  it('refuses a DER certificate cut short, and one with bytes after it', () => {
    const der = Buffer.from(pemBody(plain.certificate), 'base64');
    expectInvalid(armour(der.subarray(0, der.length - 10).toString('base64')), /truncated/);
    expectInvalid(armour(Buffer.concat([der, Buffer.from([0, 0])]).toString('base64')), /stray bytes/);
  });

  it('refuses a DER value that is not a certificate', () => {
    expectInvalid(armour(Buffer.from('3003020101', 'hex').toString('base64')), /not a DER X\.509/);
  });

  it('refuses an RSA key, naming the algorithm', () => {
    const rsa = vectors.cases.find((c) => c.name === 'RSA key is refused');
    expect(rsa).toBeDefined();
    expectInvalid(rsa?.certificate ?? '', /RSA/);
  });

  it('refuses a compressed P-256 key', () => {
    const made = makeCertificate();
    const cert = AsnConvert.parse(Buffer.from(pemBody(made.pem), 'base64'), Certificate);
    const point = made.publicKeyRaw;
    const compressed = new Uint8Array(33);
    compressed[0] = 2 + ((point[64] ?? 0) & 1);
    compressed.set(point.subarray(1, 33), 1);
    cert.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey = compressed.buffer;
    delete cert.tbsCertificateRaw;
    const der = Buffer.from(AsnConvert.serialize(cert));
    expectInvalid(armour(der.toString('base64')), /compressed keys are not supported/);
  });

  it('refuses a P-256 key that is not 65 bytes starting 04', () => {
    const made = makeCertificate();
    const cert = AsnConvert.parse(Buffer.from(pemBody(made.pem), 'base64'), Certificate);
    const point = new Uint8Array(made.publicKeyRaw);
    point[0] = 0x05;
    cert.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey = point.buffer;
    delete cert.tbsCertificateRaw;
    expectInvalid(armour(Buffer.from(AsnConvert.serialize(cert)).toString('base64')), /not an uncompressed point/);
  });
});

describe('parseCertificate: anything that is not a certificate', () => {
  const refuses = (text: string): void => {
    try {
      parseCertificate(text);
    } catch (error) {
      if (error instanceof InvalidCertificateError && error.code === 'ERR_ARK_E2EE_INVALID_CERTIFICATE') return;
      throw new Error(`threw something else: ${String(error)}`);
    }
    throw new Error('did not throw');
  };

  it('refuses any string with InvalidCertificateError and nothing else', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), refuses));
  });

  it('refuses any base64 inside the armour with InvalidCertificateError and nothing else', () => {
    fc.assert(fc.property(fc.base64String({ maxLength: 600 }), (b64) => refuses(armour(b64))));
  });

  it('a certificate with any byte changed parses or throws InvalidCertificateError, nothing else', () => {
    const der = Buffer.from(pemBody(plain.certificate), 'base64');
    fc.assert(
      fc.property(fc.nat({ max: der.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, xor) => {
        const mutated = Buffer.from(der);
        mutated[at] = (mutated[at] ?? 0) ^ xor;
        try {
          parseCertificate(armour(mutated.toString('base64')));
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidCertificateError);
        }
      }),
    );
  });
});
