/**
 * GcmBoundaryFinder (its own GHASH, src/crypto/ghash.ts) must decide exactly as each backend's
 * AES-GCM open decides: on every Project Wycheproof AES-GCM case of the kind the protocol uses
 * (256-bit key, 96-bit nonce, 128-bit tag), and on random runs of sealed pieces cut anywhere.
 * The oracle for `firstEnd` is the backend trying every allowed length in turn.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GCM_TAG_LENGTH, type CryptoBackend } from '../../src/crypto/backend.js';
import { GcmBoundaryFinder } from '../../src/crypto/gcm-boundary.js';
import * as nodeCrypto from 'node:crypto';
import { createNodeBackend } from '../../src/crypto/node.js';
import { nobleBackend } from '../../src/crypto/noble.js';

const backends: CryptoBackend[] = [createNodeBackend(nodeCrypto), nobleBackend];
const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

/** What `firstEnd(bytes, start, step)` must return, found by opening every allowed length. */
function firstEndByOpening(backend: CryptoBackend, key: Uint8Array, nonce: Uint8Array, bytes: Uint8Array, start: number, step: number): number | undefined {
  const remaining = bytes.length - start;
  for (let length = GCM_TAG_LENGTH; length <= remaining; length++) {
    if (length % step !== 0 && length !== remaining) continue;
    if (backend.open(key, nonce, bytes.subarray(start, start + length)) !== undefined) return length;
  }
  return undefined;
}

/** The finder and the backend on one sealed message: `open`, `firstEnd` at steps 1 and 3, `plaintextOf`. */
function expectAgreement(backend: CryptoBackend, key: Uint8Array, nonce: Uint8Array, bytes: Uint8Array): void {
  const finder = new GcmBoundaryFinder(backend, key, nonce);
  expect(finder.open(bytes)).toEqual(backend.open(key, nonce, bytes));
  for (const step of [1, 3]) {
    const end = finder.firstEnd(bytes, 0, step);
    expect(end, `step ${step}`).toBe(firstEndByOpening(backend, key, nonce, bytes, 0, step));
    if (end !== undefined) expect(finder.plaintextOf(bytes, 0, end)).toEqual(backend.open(key, nonce, bytes.subarray(0, end)));
  }
}

interface AeadCase {
  tcId: number;
  key: string;
  iv: string;
  aad: string;
  msg: string;
  ct: string;
  tag: string;
  result: 'valid' | 'invalid' | 'acceptable';
}
interface AeadFile {
  testGroups: { ivSize: number; keySize: number; tagSize: number; tests: AeadCase[] }[];
}
const wycheproof = JSON.parse(
  readFileSync(fileURLToPath(new URL('../../vectors/wycheproof/aes_gcm_test.json', import.meta.url)), 'utf8'),
) as AeadFile;
// The protocol's kind only: other key sizes, IV lengths and tag sizes never reach the finder
// (its J0 is nonce || 0^31 || 1 and it compares 16-byte tags); test/crypto/ghash.test.ts runs those.
const protocolCases = wycheproof.testGroups
  .filter((group) => group.keySize === 256 && group.ivSize === 96 && group.tagSize === 128)
  .flatMap((group) => group.tests);

describe.each(backends)('GcmBoundaryFinder agrees with the $name backend', (backend) => {
  it('on every Wycheproof AES-256-GCM case with a 96-bit IV and no AAD (21 valid, 27 invalid)', () => {
    const cases = protocolCases.filter((c) => c.aad === '');
    expect(cases.map((c) => c.result).sort().join()).toBe([...Array(27).fill('invalid'), ...Array(21).fill('valid')].join());
    for (const c of cases) {
      const sealed = hex(c.ct + c.tag);
      expect(backend.open(hex(c.key), hex(c.iv), sealed) !== undefined, `tcId ${c.tcId}`).toBe(c.result === 'valid');
      expectAgreement(backend, hex(c.key), hex(c.iv), sealed);
    }
  });

  it('on the 18 cases sealed with AAD, opened without it (the protocol has none): both refuse', () => {
    // The finder hashes no AAD (len(A) = 0); these cases' tags cover their AAD, so neither side may accept them.
    const cases = protocolCases.filter((c) => c.aad !== '');
    expect(cases).toHaveLength(18);
    for (const c of cases) {
      const sealed = hex(c.ct + c.tag);
      expect(backend.open(hex(c.key), hex(c.iv), sealed, hex(c.aad)), `tcId ${c.tcId} with its AAD`).toEqual(hex(c.msg));
      expect(backend.open(hex(c.key), hex(c.iv), sealed), `tcId ${c.tcId}`).toBeUndefined();
      expectAgreement(backend, hex(c.key), hex(c.iv), sealed);
    }
  });

  it('on random runs of pieces under one key and nonce, cut at random points', () => {
    const key = fc.uint8Array({ minLength: 32, maxLength: 32 });
    const nonce = fc.uint8Array({ minLength: 12, maxLength: 12 });
    const texts = fc.array(fc.uint8Array({ maxLength: 60 }), { minLength: 1, maxLength: 4 });
    // Where a window starts and ends: often on a piece boundary, else anywhere.
    const cut = fc.record({ onBoundary: fc.boolean(), index: fc.nat(), at: fc.nat() });
    fc.assert(
      fc.property(key, nonce, texts, cut, cut, (key, nonce, texts, from, to) => {
        const pieces = texts.map((text) => backend.seal(key, nonce, text));
        const bytes = new Uint8Array(Buffer.concat(pieces));
        const boundaries = [0];
        for (const piece of pieces) boundaries.push(boundaries[boundaries.length - 1]! + piece.length);
        const place = (c: { onBoundary: boolean; index: number; at: number }): number =>
          c.onBoundary ? boundaries[c.index % boundaries.length]! : c.at % (bytes.length + 1);
        const [start, end] = [place(from), place(to)].sort((a, b) => a - b) as [number, number];
        expectAgreement(backend, key, nonce, bytes.subarray(start, end));
        // From a piece's start, over the whole rest, the search finds that piece exactly.
        const finder = new GcmBoundaryFinder(backend, key, nonce);
        for (let i = 0; i < pieces.length; i++) {
          expect(finder.firstEnd(bytes, boundaries[i]!, 1)).toBe(pieces[i]!.length);
          expect(finder.plaintextOf(bytes, boundaries[i]!, pieces[i]!.length)).toEqual(texts[i]);
        }
      }),
      { numRuns: backend.name === 'noble' ? 60 : 150 },
    );
  });
});
