/**
 * Every refusal of the X.509 reader (src/protocol/x509.ts, x509-extensions.ts) and of the model
 * certificate checks (src/protocol/certificate.ts), each met by a certificate built to break one
 * rule (test/helpers/der-builder.ts) and read back with its exact message: the message names the
 * field, which is what a user reporting a certificate problem can act on. A mutation run found
 * these rules untested (docs/security.md, "Mutation testing").
 */
import { describe, expect, it, vi } from 'vitest';
import { InvalidCertificateError } from '../../src/errors.js';
import { parseCertificate } from '../../src/protocol/certificate.js';
import { DerError } from '../../src/protocol/der.js';
import { encodePem } from '../../src/protocol/pem.js';
import { readX509 } from '../../src/protocol/x509.js';
import { describeKeyUsage, readBasicConstraints, readKeyUsage, readSanDnsNames } from '../../src/protocol/x509-extensions.js';
import {
  OID,
  bitString,
  bool,
  bytes,
  certificateDer,
  explicit,
  extension,
  integer,
  octets,
  oid,
  sanValue,
  seq,
  set,
  spkiOf,
  tlv,
  utcTime,
  utf8,
  type CertificateParts,
} from '../helpers/der-builder.js';
import { loadAfresh } from '../helpers/load-afresh.js';
import { makeCertificate } from '../helpers/make-certificate.js';

const POINT = makeCertificate().publicKeyRaw;
const der = (overrides: Partial<CertificateParts> = {}): Uint8Array => certificateDer(POINT, overrides);
const extensions = (...items: Uint8Array[]): Uint8Array[] => [explicit(3, seq(...items))];

function refusal(bytesToRead: Uint8Array): string {
  try {
    readX509(bytesToRead);
  } catch (error) {
    expect(error).toBeInstanceOf(DerError);
    return (error as Error).message;
  }
  throw new Error('read without a refusal');
}

describe('the certificate built for these tests', () => {
  it('reads as the parts say', () => {
    const certificate = readX509(der());
    expect(certificate.version).toBe(3);
    expect(certificate.serialNumber).toEqual(bytes(0x12, 0x34));
    expect(certificate.subjectAttributes).toEqual([{ oid: OID.commonName, value: 'model' }]);
    expect(certificate.issuerAttributes).toEqual([{ oid: OID.commonName, value: 'issuer' }]);
    expect(certificate.notBefore.toISOString()).toBe('2025-01-01T00:00:00.000Z');
    expect(certificate.extensions).toEqual([{ oid: OID.subjectAltName, critical: false, value: sanValue('ring.r1', 'key.k1') }]);
    const parsed = parseCertificate(encodePem(der()));
    expect(parsed).toMatchObject({ ringId: 'r1', keyId: 'k1', isAICC: true });
    expect(parsed.publicKey).toEqual(POINT);
  });

  it('keeps its own copies: changing the input afterwards changes nothing read', () => {
    const input = der();
    const certificate = readX509(input);
    const parsed = parseCertificate(encodePem(input));
    const copy = input.slice();
    input.fill(0);
    expect(certificate.der).toEqual(copy);
    expect(parsed.publicKey).toEqual(POINT);
  });
});

describe('the outer structure', () => {
  it.each<[string, Uint8Array, string]>([
    ['not a SEQUENCE', set(), 'the certificate has tag 0x31, expected 0x30'],
    ['a byte after it', Uint8Array.of(...der(), 0), '1 stray bytes after the certificate'],
    ['a fourth field', der({ trailing: [integer(1)] }), 'the certificate SEQUENCE has more than three fields'],
    ['an empty TBSCertificate', seq(seq(), seq(oid(OID.ecdsaWithSha256)), bitString(bytes(1))), 'the serial number is missing'],
    ['a TBSCertificate that is a SET', seq(set(), seq(oid(OID.ecdsaWithSha256)), bitString(bytes(1))), 'the TBSCertificate has tag 0x31, expected 0x30'],
    ['a signature that is not whole octets', der({ signature: bitString(bytes(0x80), 7) }), 'the signature is not whole octets'],
    ['a signature that is an empty BIT STRING', der({ signature: tlv(0x03) }), 'the signature is an empty BIT STRING'],
    ['an outer algorithm with three fields', der({ outerAlgorithm: seq(oid(OID.ecdsaWithSha256), tlv(0x05), tlv(0x05)) }), 'the signature algorithm has more than an OID and parameters'],
    ['an outer algorithm whose OID is not one', der({ outerAlgorithm: seq(integer(1)) }), 'the signature algorithm OID has tag 0x2, expected 0x6'],
    ['two algorithm fields that differ', der({ outerAlgorithm: seq(oid('1.2.840.10045.4.3.3')) }), 'its two signature algorithm fields differ'],
    ['an inner algorithm that is not a SEQUENCE', der({ innerAlgorithm: oid(OID.ecdsaWithSha256) }), 'the TBSCertificate signature algorithm has tag 0x6, expected 0x30'],
  ])('%s is refused', (_, input, message) => {
    expect(refusal(input)).toBe(message);
  });
});

describe('version, serial, validity, key', () => {
  it.each<[string, Partial<CertificateParts>, string]>([
    ['a version field with two INTEGERs', { version: explicit(0, integer(2), integer(2)) }, 'the version field holds more than one INTEGER'],
    ['version v1 written out', { version: explicit(0, integer(0)) }, 'the version 0 is not v2 or v3 (v1 is encoded by leaving it out)'],
    ['version 4', { version: explicit(0, integer(3)) }, 'the version 3 is not v2 or v3 (v1 is encoded by leaving it out)'],
    ['a negative version', { version: explicit(0, tlv(0x02, bytes(0xff))) }, 'the version is negative'],
    ['an empty serial', { serial: tlv(0x02) }, 'the serial number is an empty INTEGER'],
    ['a validity that is a SET', { validity: set(utcTime('250101000000Z'), utcTime('350101000000Z')) }, 'the validity has tag 0x31, expected 0x30'],
    ['a validity of one time', { validity: seq(utcTime('250101000000Z')) }, 'the validity is not two times'],
    ['a validity of three times', { validity: seq(utcTime('250101000000Z'), utcTime('350101000000Z'), utcTime('350101000000Z')) }, 'the validity is not two times'],
    ['a notBefore of the wrong form', { validity: seq(utcTime('2501010000Z'), utcTime('350101000000Z')) }, 'the notBefore time is not in the form RFC 5280 requires (YYMMDDHHMMSSZ)'],
    ['a notAfter of the wrong form', { validity: seq(utcTime('250101000000Z'), utcTime('3501010000Z')) }, 'the notAfter time is not in the form RFC 5280 requires (YYMMDDHHMMSSZ)'],
    ['a SubjectPublicKeyInfo that is a SET', { spki: set() }, 'the SubjectPublicKeyInfo has tag 0x31, expected 0x30'],
    ['a SubjectPublicKeyInfo with a third field', { spki: seq(seq(oid(OID.ecPublicKey), oid(OID.prime256v1)), bitString(POINT), integer(1)) }, 'the SubjectPublicKeyInfo has extra fields'],
    ['an empty subject public key', { spki: seq(seq(oid(OID.ecPublicKey), oid(OID.prime256v1)), tlv(0x03)) }, 'the subject public key is an empty BIT STRING'],
    ['a subject public key that is not whole octets', { spki: seq(seq(oid(OID.ecPublicKey), oid(OID.prime256v1)), bitString(Uint8Array.of(...POINT.slice(0, 64), 0x80), 7)) }, 'the subject public key is not whole octets'],
    ['a key algorithm with three fields', { spki: seq(seq(oid(OID.ecPublicKey), oid(OID.prime256v1), tlv(0x05)), bitString(POINT)) }, 'the public key algorithm has more than an OID and parameters'],
    ['a key algorithm whose OID is not one', { spki: seq(seq(tlv(0x05)), bitString(POINT)) }, 'the public key algorithm OID has tag 0x5, expected 0x6'],
  ])('%s is refused', (_, overrides, message) => {
    expect(refusal(der(overrides))).toBe(message);
  });
});

describe('names', () => {
  it.each<[string, Partial<CertificateParts>, string]>([
    ['an issuer that is a SET', { issuer: set() }, 'the issuer has tag 0x31, expected 0x30'],
    ['a subject that is a SET', { subject: set() }, 'the subject has tag 0x31, expected 0x30'],
    ['a relative distinguished name that is a SEQUENCE', { issuer: seq(seq(seq(oid(OID.commonName), utf8('x')))) }, 'the issuer relative distinguished name has tag 0x30, expected 0x31'],
    ['an empty relative distinguished name', { subject: seq(set()) }, 'the subject has an empty relative distinguished name'],
    ['an attribute that is a SET', { issuer: seq(set(set(oid(OID.commonName), utf8('x')))) }, 'the issuer attribute has tag 0x31, expected 0x30'],
    ['an attribute with a type only', { subject: seq(set(seq(oid(OID.commonName)))) }, 'the subject has an attribute that is not a type and a value'],
    ['an attribute with three fields', { issuer: seq(set(seq(oid(OID.commonName), utf8('x'), utf8('y')))) }, 'the issuer has an attribute that is not a type and a value'],
    ['an attribute type that is not an OID', { subject: seq(set(seq(utf8('cn'), utf8('x')))) }, 'the subject attribute type has tag 0xc, expected 0x6'],
  ])('%s is refused', (_, overrides, message) => {
    expect(refusal(der(overrides))).toBe(message);
  });

  it('keeps an attribute value of another type as unknown, and reads the names around it', () => {
    const subject = seq(set(seq(oid('2.5.4.5'), integer(7))), set(seq(oid(OID.commonName), utf8('model'))));
    expect(readX509(der({ subject })).subjectAttributes).toEqual([
      { oid: '2.5.4.5', value: undefined },
      { oid: OID.commonName, value: 'model' },
    ]);
  });
});

describe('extensions', () => {
  const san = extension(OID.subjectAltName, sanValue('ring.r1', 'key.k1'));
  it.each<[string, Uint8Array[], string]>([
    ['a [3] field holding two SEQUENCEs', [explicit(3, seq(san), seq(san))], 'the extensions field holds more than one SEQUENCE'],
    ['a [3] field holding a SET', [explicit(3, set(san))], 'the extensions has tag 0x31, expected 0x30'],
    ['a [3] field with an empty list', [explicit(3, seq())], 'the extensions field is present but empty'],
    ['an extension that is a SET', extensions(set(oid(OID.subjectAltName), octets(sanValue('a')))), 'the extension has tag 0x31, expected 0x30'],
    ['an extension whose OID is not one', extensions(seq(integer(1), octets(sanValue('a')))), 'the extension OID has tag 0x2, expected 0x6'],
    ['an extension that appears twice', extensions(san, extension(OID.subjectAltName, sanValue('other'))), 'extension 2.5.29.17 appears twice'],
    ['critical FALSE written out', extensions(extension(OID.subjectAltName, sanValue('a'), bool(false))), 'extension 2.5.29.17 encodes critical FALSE, which DER leaves out'],
    ['a critical flag that is not a DER BOOLEAN', extensions(extension(OID.subjectAltName, sanValue('a'), tlv(0x01, bytes(1)))), 'the extension 2.5.29.17 critical flag is not a DER BOOLEAN'],
    ['an extension with an OID only', extensions(seq(oid(OID.subjectAltName))), 'the extension 2.5.29.17 value is missing'],
    ['a value that is not an OCTET STRING', extensions(seq(oid(OID.subjectAltName), sanValue('a'))), 'the extension 2.5.29.17 value has tag 0x30, expected 0x4'],
    ['a field after the value', extensions(seq(oid(OID.subjectAltName), octets(sanValue('a')), octets(sanValue('b')))), 'extension 2.5.29.17 has extra fields'],
  ])('%s is refused', (_, after, message) => {
    expect(refusal(der({ after }))).toBe(message);
  });

  it('reads a critical extension as critical, and one without the flag as not', () => {
    const certificate = readX509(der({ after: extensions(extension(OID.basicConstraints, seq(), bool(true)), extension(OID.keyUsage, bitString(bytes(0x80), 7))) }));
    expect(certificate.extensions.map(({ oid: id, critical }) => [id, critical])).toEqual([
      [OID.basicConstraints, true],
      [OID.keyUsage, false],
    ]);
  });
});

describe('what may follow the SubjectPublicKeyInfo', () => {
  const uid = (n: 1 | 2): Uint8Array => tlv(0x80 | n, bytes(0, 1));
  const exts = explicit(3, seq(extension(OID.subjectAltName, sanValue('ring.r1', 'key.k1'))));

  it('a v1 certificate has nothing after it, and no extensions', () => {
    const certificate = readX509(der({ version: undefined, after: [] }));
    expect(certificate.version).toBe(1);
    expect(certificate.extensions).toEqual([]);
    expect(refusal(der({ version: undefined, after: [uid(1)] }))).toBe('unexpected field (tag 0x81) after the SubjectPublicKeyInfo');
    expect(refusal(der({ version: undefined, after: [exts] }))).toBe('unexpected field (tag 0xa3) after the SubjectPublicKeyInfo');
  });

  it('a v2 certificate may have unique ids, not extensions', () => {
    const v2 = explicit(0, integer(1));
    expect(readX509(der({ version: v2, after: [uid(1), uid(2)] })).version).toBe(2);
    expect(refusal(der({ version: v2, after: [exts] }))).toBe('unexpected field (tag 0xa3) after the SubjectPublicKeyInfo');
  });

  it('a v3 certificate may have unique ids before its extensions, each once, in order', () => {
    const certificate = readX509(der({ after: [uid(1), uid(2), exts] }));
    expect(certificate.extensions.map((e) => e.oid)).toEqual([OID.subjectAltName]);
    expect(refusal(der({ after: [exts, uid(1)] }))).toBe('unexpected field (tag 0x81) after the SubjectPublicKeyInfo');
    expect(refusal(der({ after: [uid(2), uid(1)] }))).toBe('unexpected field (tag 0x81) after the SubjectPublicKeyInfo');
    expect(refusal(der({ after: [uid(1), uid(1)] }))).toBe('unexpected field (tag 0x81) after the SubjectPublicKeyInfo');
    expect(refusal(der({ after: [exts, exts] }))).toBe('unexpected field (tag 0xa3) after the SubjectPublicKeyInfo');
    expect(refusal(der({ after: [explicit(4, integer(1))] }))).toBe('unexpected field (tag 0xa4) after the SubjectPublicKeyInfo');
  });
});

describe('extension values', () => {
  it.each<[string, () => unknown, string]>([
    ['basicConstraints that is a SET', () => readBasicConstraints(set()), 'the basicConstraints has tag 0x31, expected 0x30'],
    ['basicConstraints with a cA that is not a DER BOOLEAN', () => readBasicConstraints(seq(tlv(0x01, bytes(1)))), 'the basicConstraints cA is not a DER BOOLEAN'],
    ['basicConstraints with cA FALSE written out', () => readBasicConstraints(seq(bool(false))), 'basicConstraints encodes cA FALSE, which DER leaves out'],
    ['basicConstraints with a negative path length', () => readBasicConstraints(seq(bool(true), tlv(0x02, bytes(0xff)))), 'the pathLenConstraint is negative'],
    ['basicConstraints with a field after the path length', () => readBasicConstraints(seq(bool(true), integer(1), integer(1))), 'basicConstraints has extra fields'],
    ['basicConstraints with two fields after cA', () => readBasicConstraints(seq(bool(true), integer(1), bool(true))), 'basicConstraints has extra fields'],
    ['keyUsage that is an OCTET STRING', () => readKeyUsage(octets(bytes(0x80))), 'the keyUsage has tag 0x4, expected 0x3'],
    ['keyUsage that is an empty BIT STRING', () => readKeyUsage(tlv(0x03)), 'the keyUsage is an empty BIT STRING'],
    ['keyUsage of three octets', () => readKeyUsage(bitString(bytes(0x80, 0, 0))), 'keyUsage has more than the nine defined bits'],
    ['keyUsage with bit 9 set', () => readKeyUsage(bitString(bytes(0, 0x40))), 'keyUsage has a bit beyond decipherOnly'],
    ['subjectAltName that is a SET', () => readSanDnsNames(set()), 'the subjectAltName has tag 0x31, expected 0x30'],
  ])('%s is refused', (_, read, message) => {
    let thrown: unknown;
    try {
      read();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(DerError);
    expect((thrown as Error).message).toBe(message);
  });

  it('describeKeyUsage names the bits set, in order', () => {
    expect(describeKeyUsage(0b101)).toBe('[digitalSignature, keyEncipherment]');
    expect(describeKeyUsage(0)).toBe('[]');
  });

  it('keyUsage reads every one of the nine bits, and trailing zero octets', () => {
    expect(readKeyUsage(bitString(bytes(0xff, 0x80), 7))).toBe(0x1ff);
    expect(readKeyUsage(bitString(bytes(0x04, 0x00)))).toBe(1 << 5);
    expect(readKeyUsage(bitString(bytes(0, 0x80), 7))).toBe(1 << 8);
  });

  it('subjectAltName keeps only dNSNames, in order', () => {
    const value = seq(tlv(0x82, bytes(0x61)), tlv(0x87, bytes(127, 0, 0, 1)), tlv(0x81, bytes(0x62)), tlv(0x82, bytes(0x63)));
    expect(readSanDnsNames(value)).toEqual(['a', 'c']);
  });
});

describe('the model certificate', () => {
  const parseDer = (input: Uint8Array) => parseCertificate(encodePem(input));
  // `parse`: parseCertificate of a copy loaded afresh, where a test reads the module's tables.
  function refused(input: unknown, parse = parseCertificate): InvalidCertificateError {
    try {
      parse(input instanceof Uint8Array ? encodePem(input) : (input as string));
    } catch (error) {
      expect((error as Error).name).toBe('InvalidCertificateError');
      expect((error as InvalidCertificateError).code).toBe('ERR_ARK_E2EE_INVALID_CERTIFICATE');
      return error as InvalidCertificateError;
    }
    throw new Error('parsed without a refusal');
  }

  it('says which key algorithm or curve it has when it is not P-256', async () => {
    const { parseCertificate: parse } = await loadAfresh(() => import('../../src/protocol/certificate.js'));
    const cases: [string, string | undefined, string][] = [
      ['1.2.840.113549.1.1.1', undefined, 'RSA (rsaEncryption), OID 1.2.840.113549.1.1.1'],
      ['1.2.840.113549.1.1.10', undefined, 'RSASSA-PSS, OID 1.2.840.113549.1.1.10'],
      ['1.2.840.10040.4.1', undefined, 'DSA, OID 1.2.840.10040.4.1'],
      ['1.3.101.110', undefined, 'X25519, OID 1.3.101.110'],
      ['1.3.101.111', undefined, 'X448, OID 1.3.101.111'],
      ['1.3.101.112', undefined, 'Ed25519, OID 1.3.101.112'],
      ['1.3.101.113', undefined, 'Ed448, OID 1.3.101.113'],
      ['1.2.3.4', undefined, 'OID 1.2.3.4'],
    ];
    for (const [algorithm, , described] of cases) {
      const error = refused(der({ spki: seq(seq(oid(algorithm)), bitString(POINT)) }), parse);
      expect(error.message).toBe(
        `model certificate key is ${described}, not an EC key on P-256: the protocol needs a P-256 certificate; check that it is the model's E2EE certificate`,
      );
    }
    const curves: [string, string][] = [
      ['1.2.840.10045.3.1.1', 'P-192 (prime192v1)'],
      ['1.3.132.0.33', 'P-224 (secp224r1)'],
      ['1.3.132.0.34', 'P-384 (secp384r1)'],
      ['1.3.132.0.35', 'P-521 (secp521r1)'],
      ['1.3.132.0.10', 'secp256k1'],
      ['1.3.36.3.3.2.8.1.1.7', 'brainpoolP256r1'],
      ['1.2.156.10197.1.301', 'SM2'],
    ];
    for (const [curve, named] of curves) {
      expect(refused(der({ spki: spkiOf(POINT, curve) }), parse).message).toBe(
        `model certificate EC key is on ${named}, OID ${curve}, not P-256 (prime256v1): the protocol needs a P-256 certificate; check that it is the model's E2EE certificate`,
      );
    }
  });

  it('refuses an EC key that does not name its curve', () => {
    for (const spki of [seq(seq(oid(OID.ecPublicKey)), bitString(POINT)), seq(seq(oid(OID.ecPublicKey), seq(integer(1))), bitString(POINT))]) {
      expect(refused(der({ spki })).message).toBe(
        'model certificate EC key does not name its curve (implicit or explicit curve parameters are not supported): the protocol needs a P-256 (prime256v1) key',
      );
    }
  });

  it('refuses a compressed key, and says so only when it is one', async () => {
    const { parseCertificate: parse } = await loadAfresh(() => import('../../src/protocol/certificate.js'));
    const x = POINT.slice(1, 33);
    for (const prefix of [0x02, 0x03]) {
      expect(refused(der({ spki: spkiOf(Uint8Array.of(prefix, ...x)) })).message).toBe(
        'model certificate P-256 key is a compressed point; compressed keys are not supported: ask for a certificate with an uncompressed key',
      );
    }
    const wrong = [Uint8Array.of(0x04, ...x), Uint8Array.of(0x05, ...POINT.slice(1)), Uint8Array.of(0x02, ...POINT.slice(1)), POINT.slice(0, 64), Uint8Array.of(...POINT, 0)];
    for (const point of wrong) {
      expect(refused(der({ spki: spkiOf(point) }), parse).message).toBe(
        `model certificate P-256 key is not an uncompressed point (${point.length} bytes, expected 65 starting 04): pass the PEM text the certificate service returned`,
      );
    }
  });

  it('gives the DER reason, and keeps the DerError as its cause; other refusals have no cause', () => {
    const error = refused(der({ validity: seq(utcTime('250101000000Z')) }));
    expect(error.message).toBe('model certificate is not a DER X.509 certificate (the validity is not two times): pass the PEM text the certificate service returned');
    expect(error.cause).toBeInstanceOf(DerError);
    const bad = refused(der({ spki: spkiOf(POINT, '1.3.132.0.34') }));
    expect(bad.cause).toBeUndefined();
    expect('cause' in bad).toBe(false);
  });

  it('refuses a malformed Subject Alternative Name, with the reason as its cause', () => {
    const error = refused(der({ after: extensions(extension(OID.subjectAltName, set())) }));
    expect(error.message).toBe('model certificate Subject Alternative Name extension is malformed: pass the PEM text the certificate service returned');
    expect((error.cause as Error).message).toBe('the subjectAltName has tag 0x31, expected 0x30');
  });

  it('reads ring and key ids only when both are there', () => {
    const withSan = (...names: string[]) => parseDer(der({ after: extensions(extension(OID.subjectAltName, sanValue(...names))) }));
    expect(withSan('ring.r1', 'key.k1')).toMatchObject({ ringId: 'r1', keyId: 'k1', isAICC: true });
    expect(withSan('ring.r1')).toMatchObject({ ringId: 'r1', keyId: '', isAICC: false });
    expect(withSan('host.example', 'key.k1')).toMatchObject({ ringId: '', keyId: 'k1', isAICC: false });
    expect(parseDer(der({ after: [] }))).toMatchObject({ ringId: '', keyId: '', isAICC: false });
  });

  it('refuses what is not a string, naming what it got', () => {
    expect(refused(null).message).toBe('model certificate must be a PEM string, got null');
    expect(refused(42).message).toBe('model certificate must be a PEM string, got number');
    expect(refused(undefined).message).toBe('model certificate must be a PEM string, got undefined');
  });

  it('refuses a second CERTIFICATE block, complete or cut', () => {
    const pem = encodePem(der());
    const message = "model certificate PEM holds more than one 'CERTIFICATE' block: pass only the model's own certificate";
    expect(refused(pem + pem).message).toBe(message);
    expect(refused(`${pem}-----BEGIN CERTIFICATE-----\nMIIB\n`).message).toBe(message);
  });
});

describe('a fault that is not about the bytes', () => {
  it('comes out as it is, not as a certificate error', async () => {
    vi.resetModules();
    vi.doMock('../../src/protocol/x509.js', () => ({
      readX509: () => {
        throw new TypeError('a bug in the reader');
      },
    }));
    try {
      const { parseCertificate: parse } = await import('../../src/protocol/certificate.js');
      expect(() => parse(encodePem(der()))).toThrow(TypeError);
    } finally {
      vi.doUnmock('../../src/protocol/x509.js');
      vi.resetModules();
    }
  });
});
