/**
 * Properties of the certificate texts a hostile service or a careless file can give (issues 11
 * and 17): splitting PEM blocks (linear now) finds exactly what the regular expression it
 * replaced found; the E2E_CERTIFICATE_PATH layout check accepts every clean file and refuses
 * every file with text outside its blocks; path building over any bundle of same-named CAs stays
 * within its signature budget, each (certificate, issuer key) pair checked once.
 */
import { generateKeyPairSync } from 'node:crypto';
import { KeyUsageFlags } from '@peculiar/asn1-x509';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { certificateFileProblem } from '../../src/certificates/certificate-file.js';
import { CertificateTrust, MAX_PEM_CERTIFICATES, MAX_SIGNATURE_CHECKS, splitPemCertificates } from '../../src/certificates/trust.js';
import { InvalidCertificateError } from '../../src/errors.js';
import { makeCertificate } from '../helpers/make-certificate.js';
import { fuzzParameters, fuzzTimeout } from './settings.js';

const BEGIN = '-----BEGIN CERTIFICATE-----';
const END = '-----END CERTIFICATE-----';
const CA_USAGE = KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign;

/** The scan splitPemCertificates replaced (quadratic on BEGIN lines with no END, same answers). */
const byRegex = (text: string): string[] =>
  [...text.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)].map((match) => match[0]);

const pemPieces = fc.array(
  fc.oneof(
    fc.constant(BEGIN),
    fc.constant(END),
    fc.constant('\n'),
    fc.constant('-----BEGIN PRIVATE KEY-----'),
    fc.constant('-----'),
    fc.string({ maxLength: 12 }),
  ),
  { maxLength: 30 },
);

describe('splitPemCertificates', () => {
  it('finds exactly the blocks the regular expression found, for any text of PEM fragments', () => {
    fc.assert(
      fc.property(pemPieces, (pieces) => {
        const text = pieces.join('');
        expect(splitPemCertificates(text)).toEqual(byRegex(text));
      }),
      fuzzParameters(2_000),
    );
  });
});

describe('the E2E_CERTIFICATE_PATH layout', () => {
  const pems = [1, 2, 3].map(() => makeCertificate().pem);
  const blank = fc.constantFrom('', ' ', '\t', '  ');
  const newline = fc.constantFrom('\n', '\r\n');
  /** One to MAX_PEM_CERTIFICATES certificates, with blank lines and either line ending around them. */
  const cleanFile = fc
    .tuple(
      fc.array(fc.constantFrom(...pems), { minLength: 1, maxLength: MAX_PEM_CERTIFICATES }),
      fc.array(blank, { maxLength: 3 }),
      newline,
    )
    .map(([blocks, blanks, eol]) => {
      const gap = blanks.map((line) => line + eol).join('');
      return gap + blocks.map((pem) => pem.trimEnd().replaceAll('\n', eol) + eol + gap).join('');
    });

  it('accepts every file of certificate blocks and blank lines', () => {
    fc.assert(
      fc.property(cleanFile, (text) => {
        expect(certificateFileProblem(text)).toBeUndefined();
      }),
      fuzzParameters(500),
    );
  });

  it('refuses any such file with a non-blank line of text after it, before it or between blocks', () => {
    const junk = fc.string({ minLength: 1, maxLength: 40 }).filter((line) => line.trim() !== '' && !/[\r\n]/.test(line));
    fc.assert(
      fc.property(cleanFile, junk, fc.constantFrom('after', 'before'), (text, line, where) => {
        const dirty = where === 'after' ? `${text}${line}\n` : `${line}\n${text}`;
        expect(certificateFileProblem(dirty)).toMatch(/text (after the last certificate block|outside the certificate blocks)|holds a .* block/);
      }),
      fuzzParameters(500),
    );
  });
});

describe('path building stays within its budget', () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const sameKey = Array.from({ length: 6 }, () => makeCertificate({ commonName: 'Loop CA', ca: true, keyUsage: CA_USAGE, privateKey }));
  const otherKeys = Array.from({ length: 4 }, (_, index) =>
    makeCertificate({ commonName: 'Loop CA', ca: true, keyUsage: CA_USAGE, issuer: sameKey[index % sameKey.length]! }),
  );
  const pool = [...sameKey, ...otherKeys];
  const leaf = makeCertificate({ commonName: 'ep-model', issuer: sameKey[0]!, keyUsage: KeyUsageFlags.keyAgreement });
  const anchors = [makeCertificate({ commonName: 'Loop CA', ca: true, keyUsage: CA_USAGE }).pem, makeCertificate({ commonName: 'Root', ca: true }).pem];

  it(
    'any bundle of same-named CAs (same and other keys) is refused within MAX_SIGNATURE_CHECKS checks, none twice',
    async () => {
      const subtle = globalThis.crypto.subtle;
      const verify = subtle.verify.bind(subtle);
      const importKey = subtle.importKey.bind(subtle) as (...args: unknown[]) => Promise<CryptoKey>;
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.nat(pool.length - 1), { maxLength: MAX_PEM_CERTIFICATES - 1 }),
          fc.array(fc.nat(pool.length - 1), { maxLength: 8 }),
          async (inPem, asIntermediates) => {
            const spkiOf = new WeakMap<CryptoKey, string>();
            const checks: string[] = [];
            const importSpy = vi.spyOn(subtle, 'importKey').mockImplementation((async (...args: unknown[]) => {
              const key = await importKey(...args);
              spkiOf.set(key, Buffer.from(args[1] as Uint8Array).toString('base64'));
              return key;
            }) as SubtleCrypto['importKey']);
            const verifySpy = vi.spyOn(subtle, 'verify').mockImplementation((...args: Parameters<SubtleCrypto['verify']>) => {
              checks.push(`${spkiOf.get(args[1])} ${Buffer.from(args[3] as Uint8Array).toString('base64')}`);
              return verify(...args);
            });
            try {
              const trust = CertificateTrust.from({
                trustAnchors: anchors,
                intermediates: asIntermediates.length > 0 ? asIntermediates.map((index) => pool[index]!.pem) : undefined,
              })!;
              const pem = leaf.pem + inPem.map((index) => pool[index]!.pem).join('');
              const error = await trust.verify(pem, Date.UTC(2026, 5, 1), 'it').then(() => undefined, (caught: unknown) => caught);
              expect(error).toBeInstanceOf(InvalidCertificateError);
              expect(checks.length).toBeLessThanOrEqual(MAX_SIGNATURE_CHECKS);
              expect(new Set(checks).size).toBe(checks.length);
            } finally {
              verifySpy.mockRestore();
              importSpy.mockRestore();
            }
          },
        ),
        fuzzParameters(40),
      );
    },
    fuzzTimeout(40, 200),
  );
});
