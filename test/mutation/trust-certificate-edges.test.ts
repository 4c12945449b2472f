/**
 * readCertificate (src/certificates/trust-certificate.ts), as a mutation run found it untested:
 * how names are written in messages, a PEM body that is not base64, and which critical
 * extensions count as understood (and how the first one that is not is named). The name tables
 * and the set of understood extensions are built when the module loads, so the tests that read
 * them use a copy loaded afresh (test/helpers/load-afresh.ts), which a mutation run sees.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { readCertificate } from '../../src/certificates/trust-certificate.js';
import { loadAfresh } from '../helpers/load-afresh.js';
import { DerError } from '../../src/protocol/der.js';
import { KEY_USAGE } from '../../src/protocol/x509-extensions.js';
import {
  bitString, bool, bytes, certificateDer, explicit, extension, integer, oid, seq, set, utf8,
} from '../helpers/der-builder.js';

const point = new Uint8Array(
  generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }).subarray(-65),
);
const pemOf = (der: Uint8Array): string =>
  `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64')}\n-----END CERTIFICATE-----`;
const attribute = (type: string, value: Uint8Array): Uint8Array => set(seq(oid(type), value));
const CRITICAL = bool(true);
/** readCertificate from a copy of its module loaded afresh, tables included. */
const freshReader = async (): Promise<typeof readCertificate> =>
  (await loadAfresh(() => import('../../src/certificates/trust-certificate.js'))).readCertificate;

describe('names, as messages write them', () => {
  it('every attribute type the reader names, in order, then an OID it does not', async () => {
    const readCertificate = await freshReader();
    const subject = seq(
      attribute('2.5.4.3', utf8('cn')),
      attribute('2.5.4.5', utf8('serial')),
      attribute('2.5.4.6', utf8('CN')),
      attribute('2.5.4.7', utf8('city')),
      attribute('2.5.4.8', utf8('province')),
      attribute('2.5.4.10', utf8('org')),
      attribute('2.5.4.11', utf8('unit')),
      attribute('1.2.840.113549.1.9.1', utf8('a@b.c')),
      attribute('0.9.2342.19200300.100.1.25', utf8('example')),
      attribute('2.5.4.12', utf8('title')),
    );
    expect(readCertificate(pemOf(certificateDer(point, { subject }))).name).toBe(
      'CN=cn, serialNumber=serial, C=CN, L=city, ST=province, O=org, OU=unit, emailAddress=a@b.c, DC=example, 2.5.4.12=title',
    );
  });

  it('a value that is not text, and an empty name', async () => {
    const readCertificate = await freshReader();
    const certificate = readCertificate(pemOf(certificateDer(point, { subject: seq(attribute('2.5.4.3', integer(5))), issuer: seq() })));
    expect(certificate.name).toBe('CN=(not text)');
    expect(certificate.issuerName).toBe('(empty name)');
  });
});

it('a PEM body that is not base64 is a DerError that says so', () => {
  expect(() => readCertificate('-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----')).toThrow(
    new DerError('the PEM body is not valid base64'),
  );
});

describe('critical extensions', () => {
  const withExtensions = async (...extensions: Uint8Array[]) =>
    (await freshReader())(pemOf(certificateDer(point, { after: [explicit(3, seq(...extensions))] })));

  it('those whose meaning is honoured, or harmless, are understood', async () => {
    const certificate = await withExtensions(
      extension('2.5.29.19', seq(bool(true)), CRITICAL), // basicConstraints
      extension('2.5.29.15', bitString(bytes(0x08), 3), CRITICAL), // keyUsage: keyAgreement
      extension('2.5.29.37', seq(oid('1.3.6.1.5.5.7.3.1')), CRITICAL), // extKeyUsage
      extension('2.5.29.17', seq(), CRITICAL), // subjectAltName
      extension('2.5.29.14', bytes(0x04, 0x01, 0x00), CRITICAL), // subjectKeyIdentifier
      extension('2.5.29.35', seq(), CRITICAL), // authorityKeyIdentifier
      extension('2.5.29.32', seq(), CRITICAL), // certificatePolicies
    );
    expect(certificate.unknownCritical).toBeUndefined();
    expect(certificate.basicConstraints).toEqual({ ca: true, pathLength: undefined });
    expect(certificate.keyUsage).toBe(KEY_USAGE.keyAgreement);
  });

  it('the first one that is not is named, by name where the reader knows it, else by OID', async () => {
    for (const [id, named] of [
      ['2.5.29.30', 'nameConstraints (OID 2.5.29.30)'],
      ['2.5.29.33', 'policyMappings (OID 2.5.29.33)'],
      ['2.5.29.36', 'policyConstraints (OID 2.5.29.36)'],
      ['2.5.29.54', 'inhibitAnyPolicy (OID 2.5.29.54)'],
      ['1.2.3.4', 'OID 1.2.3.4'],
    ] as const) {
      expect((await withExtensions(extension(id, seq(), CRITICAL), extension('1.2.3.5', seq(), CRITICAL))).unknownCritical).toBe(named);
    }
  });

  it('one that is not critical is not a concern', async () => {
    expect((await withExtensions(extension('2.5.29.30', seq()))).unknownCritical).toBeUndefined();
  });
});
