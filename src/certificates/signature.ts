/**
 * Signature checks for the trust checks (trust.ts) on WebCrypto (`globalThis.crypto.subtle`):
 * how to verify what a certificate says it is signed with under an issuer's key (ECDSA P-256/384/
 * 521, RSA PKCS#1 v1.5 and PSS with SHA-2, Ed25519; SHA-1 and MD5 refused), and the key pin.
 * Runtime-neutral: Node ≥ 20, browsers and edge runtimes all have WebCrypto.
 */
import { DerError, TAG, childrenOf, decodeOid, integerAt, readTlv, readWhole } from '../protocol/der.js';
import type { TrustCertificate } from './trust-certificate.js';
import { subtle } from './trust-limits.js';

const OID = {
  ecPublicKey: '1.2.840.10045.2.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
  rsassaPss: '1.2.840.113549.1.1.10',
  mgf1: '1.2.840.113549.1.1.8',
  ed25519: '1.3.101.112',
  p256: '1.2.840.10045.3.1.7',
  p384: '1.3.132.0.34',
  p521: '1.3.132.0.35',
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
} as const;

type Hash = 'SHA-256' | 'SHA-384' | 'SHA-512';

const HASH_BY_OID: Readonly<Record<string, Hash>> = {
  [OID.sha256]: 'SHA-256',
  [OID.sha384]: 'SHA-384',
  [OID.sha512]: 'SHA-512',
};

/** Signature algorithms with their hash fixed by the OID. */
const SIGNATURES: Readonly<Record<string, { kind: 'ecdsa' | 'rsa'; hash: Hash }>> = {
  '1.2.840.10045.4.3.2': { kind: 'ecdsa', hash: 'SHA-256' },
  '1.2.840.10045.4.3.3': { kind: 'ecdsa', hash: 'SHA-384' },
  '1.2.840.10045.4.3.4': { kind: 'ecdsa', hash: 'SHA-512' },
  '1.2.840.113549.1.1.11': { kind: 'rsa', hash: 'SHA-256' },
  '1.2.840.113549.1.1.12': { kind: 'rsa', hash: 'SHA-384' },
  '1.2.840.113549.1.1.13': { kind: 'rsa', hash: 'SHA-512' },
};

const WEAK_SIGNATURES: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
  '1.2.840.10040.4.3': 'dsa-with-sha1',
};

const CURVES: Readonly<Record<string, { name: string; size: number }>> = {
  [OID.p256]: { name: 'P-256', size: 32 },
  [OID.p384]: { name: 'P-384', size: 48 },
  [OID.p521]: { name: 'P-521', size: 66 },
};

/** The OID of a DER AlgorithmIdentifier `SEQUENCE { OID, parameters OPTIONAL }`, and its parameters' bytes. */
function algorithmOf(der: Uint8Array): { oid: string | undefined; parameters: Uint8Array | undefined } {
  const sequence = readTlv(der, 0);
  // Stryker disable next-line StringLiteral: only pssParameters calls this, inside a try whose catch gives its own reason
  if (sequence.tag !== 0x30) throw new DerError('an AlgorithmIdentifier is not a SEQUENCE');
  const [oid, parameters] = childrenOf(der, sequence);
  return {
    oid: oid === undefined ? undefined : decodeOid(der.subarray(oid.start, oid.end)),
    parameters: parameters === undefined ? undefined : der.subarray(parameters.start, parameters.end),
  };
}

/** RSASSA-PSS-params → WebCrypto's hash and salt length; a reason string when unsupported. */
function pssParameters(parameters: Uint8Array | undefined): { hash: Hash; saltLength: number } | string {
  if (parameters === undefined) return 'RSASSA-PSS without parameters (SHA-1) is not accepted';
  const der = parameters;
  let hashOid = OID.sha1 as string;
  let mgfHashOid = OID.sha1 as string;
  let saltLength = 20;
  try {
    const sequence = readTlv(der, 0);
    if (sequence.tag !== 0x30) return 'malformed RSASSA-PSS parameters';
    for (const field of childrenOf(der, sequence)) {
      const inner = readTlv(der, field.contentStart, field.end);
      const innerBytes = der.subarray(inner.start, inner.end);
      if (field.tag === 0xa0) {
        hashOid = algorithmOf(innerBytes).oid ?? '(no OID)';
      } else if (field.tag === 0xa1) {
        const mgf = algorithmOf(innerBytes);
        if (mgf.oid !== OID.mgf1) return `RSASSA-PSS mask generation ${mgf.oid ?? '(unreadable)'} is not MGF1`;
        // Stryker disable next-line StringLiteral: any stand-in works, it only has to differ from the message hash, a SHA-2 OID once compared
        mgfHashOid = mgf.parameters === undefined ? '' : (algorithmOf(mgf.parameters).oid ?? '');
      } else if (field.tag === 0xa2) {
        if (inner.tag !== 0x02 || inner.end - inner.contentStart > 2) return 'bad RSASSA-PSS salt length';
        saltLength = 0;
        for (let i = inner.contentStart; i < inner.end; i++) saltLength = saltLength * 256 + (der[i] ?? 0);
      } else if (field.tag === 0xa3) {
        if (inner.end - inner.contentStart !== 1 || der[inner.contentStart] !== 1) return 'bad RSASSA-PSS trailer field';
      }
    }
  } catch {
    return 'malformed RSASSA-PSS parameters';
  }
  const hash = HASH_BY_OID[hashOid];
  if (hash === undefined) return `RSASSA-PSS with hash ${hashOid === OID.sha1 ? 'SHA-1' : hashOid} is not accepted`;
  if (mgfHashOid !== hashOid) return 'RSASSA-PSS with an MGF1 hash other than the message hash is not supported';
  return { hash, saltLength };
}

interface VerifyPlan {
  importAlgorithm: RsaHashedImportParams | EcKeyImportParams | Algorithm;
  verifyAlgorithm: RsaPssParams | EcdsaParams | Algorithm;
  /** Converts the certificate's signature bytes into WebCrypto's form. */
  signature: (raw: Uint8Array) => Uint8Array | undefined;
}

/** How to verify what `child` says it is signed with under `issuer`'s key, or why not. */
function planFor(child: TrustCertificate, issuer: TrustCertificate): VerifyPlan | string {
  const algorithm = child.signatureAlgorithm.oid;
  const keyType = issuer.keyAlgorithm.oid;
  const weak = WEAK_SIGNATURES[algorithm];
  if (weak !== undefined) return `it is signed with ${weak}, which is not accepted`;
  const fixed = SIGNATURES[algorithm];
  if (fixed?.kind === 'ecdsa') {
    if (keyType !== OID.ecPublicKey) return `it has an ECDSA signature but the issuer's key is not an EC key`;
    const curveOid = oidOfCurve(issuer.keyAlgorithm.parameters);
    const curve = curveOid === undefined ? undefined : CURVES[curveOid];
    if (curve === undefined) return `the issuer's EC key is on an unsupported curve (${curveOid ?? 'unnamed'})`;
    return {
      importAlgorithm: { name: 'ECDSA', namedCurve: curve.name },
      verifyAlgorithm: { name: 'ECDSA', hash: fixed.hash },
      signature: (raw) => ecdsaRawSignature(raw, curve.size),
    };
  }
  if (fixed?.kind === 'rsa') {
    if (keyType !== OID.rsaEncryption) return `it has an RSA signature but the issuer's key is not an RSA key`;
    return {
      importAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: fixed.hash },
      verifyAlgorithm: { name: 'RSASSA-PKCS1-v1_5' },
      signature: (raw) => raw,
    };
  }
  if (algorithm === OID.rsassaPss) {
    if (keyType !== OID.rsaEncryption && keyType !== OID.rsassaPss) {
      return `it has an RSASSA-PSS signature but the issuer's key is not an RSA key`;
    }
    const pss = pssParameters(child.signatureAlgorithm.parameters);
    if (typeof pss === 'string') return pss;
    return {
      importAlgorithm: { name: 'RSA-PSS', hash: pss.hash },
      verifyAlgorithm: { name: 'RSA-PSS', saltLength: pss.saltLength },
      signature: (raw) => raw,
    };
  }
  if (algorithm === OID.ed25519) {
    if (keyType !== OID.ed25519) return `it has an Ed25519 signature but the issuer's key is not an Ed25519 key`;
    return { importAlgorithm: { name: 'Ed25519' }, verifyAlgorithm: { name: 'Ed25519' }, signature: (raw) => raw };
  }
  return `its signature algorithm ${algorithm} is not supported (ECDSA, RSA PKCS#1 v1.5 or PSS with SHA-2, Ed25519)`;
}

function oidOfCurve(parameters: Uint8Array | undefined): string | undefined {
  return parameters === undefined ? undefined : decodeOid(parameters);
}

/** `undefined` when `issuer`'s key verifies `child`'s signature; otherwise why not. */
export async function signatureProblem(child: TrustCertificate, issuer: TrustCertificate): Promise<string | undefined> {
  const plan = planFor(child, issuer);
  if (typeof plan === 'string') return plan;
  const signature = plan.signature(child.signature);
  if (signature === undefined) return 'its signature is malformed';
  let key: CryptoKey;
  try {
    // Stryker disable next-line BooleanLiteral: the key never leaves this function, so whether it could be exported is not observable
    key = await subtle().importKey('spki', new Uint8Array(issuer.spki), plan.importAlgorithm, false, ['verify']);
  } catch (cause) {
    return `the issuer's key cannot be used by this runtime's WebCrypto (${(cause as Error).message})`;
  }
  let ok: boolean;
  try {
    ok = await subtle().verify(plan.verifyAlgorithm, key, new Uint8Array(signature), new Uint8Array(child.tbs));
  } catch (cause) {
    return `its signature could not be checked (${(cause as Error).message})`;
  }
  return ok ? undefined : `its signature does not verify under the key of "${issuer.name}"`;
}

/**
 * A DER ECDSA-Sig-Value `SEQUENCE { r INTEGER, s INTEGER }` → `r || s` of `size` bytes each;
 * `undefined` unless it is exactly that, with minimal positive integers.
 */
function ecdsaRawSignature(der: Uint8Array, size: number): Uint8Array | undefined {
  try {
    // Stryker disable next-line StringLiteral: the catch below drops the message; every refusal reads 'its signature is malformed'
    const sequence = readWhole(der, TAG.sequence, 'ECDSA signature');
    const parts = childrenOf(der, sequence);
    if (parts.length !== 2) return undefined;
    const out = new Uint8Array(size * 2);
    for (const [index, part] of parts.entries()) {
      // Stryker disable next-line StringLiteral: the catch below drops the message; every refusal reads 'its signature is malformed'
      let value = integerAt(der, part, 'ECDSA signature integer');
      if (((value[0] ?? 0) & 0x80) !== 0) return undefined; // negative
      if (value.length > 1 && value[0] === 0) value = value.subarray(1);
      if (value.length > size) return undefined;
      out.set(value, index * size + size - value.length);
    }
    return out;
    // Stryker disable next-line BlockStatement: an empty catch also ends the function with undefined
  } catch {
    return undefined;
  }
}
