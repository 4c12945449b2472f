/**
 * Our GHASH (src/crypto/ghash.ts, NIST SP 800-38D §6.4) against four oracles: the GCM spec's own
 * test cases (McGrew and Viega, "The Galois/Counter Mode of Operation", cases 13–18, AES-256),
 * every Project Wycheproof AES-GCM case of the project's copy, node:crypto's AES-GCM tags on
 * random inputs, and a BigInt multiplication in GF(2^128) written straight from §6.3. The GCM
 * around the GHASH is built here from node:crypto's AES-ECB (§7.1), so that any key size and IV
 * length can be checked, not only the protocol's.
 */
import { createCipheriv, type CipherGCM } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Ghash, gcmHash } from '../../src/crypto/ghash.js';
import { InvalidKeyError } from '../../src/errors.js';

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const xor = (a: Uint8Array, b: Uint8Array): Uint8Array => a.map((byte, i) => byte ^ b[i]!);

/** CIPH_K of one block, AES-128/192/256 by the key's length. */
function aesBlock(key: Uint8Array, block: Uint8Array): Uint8Array {
  const cipher = createCipheriv(`aes-${key.length * 8}-ecb`, key, null);
  cipher.setAutoPadding(false);
  return new Uint8Array(cipher.update(block));
}

/** GCM-AE_K(IV, P, A) (§7.1), with our GHASH and nothing else of node's GCM. */
function gcmFromEcb(key: Uint8Array, iv: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): { ciphertext: Uint8Array; tag: Uint8Array } {
  const hashKey = aesBlock(key, new Uint8Array(16));
  let j0: Uint8Array;
  if (iv.length === 12) {
    j0 = new Uint8Array(16);
    j0.set(iv);
    j0[15] = 1;
  } else {
    // J0 = GHASH_H(IV || 0^(s+64) || [len(IV)]64) (§7.1 step 2).
    const hash = new Ghash(hashKey);
    hash.absorb(iv, 0, iv.length);
    hash.absorbLengths(0, iv.length);
    j0 = hash.digest();
  }
  const counter = j0.slice();
  const ciphertext = new Uint8Array(plaintext.length);
  for (let at = 0; at < plaintext.length; at += 16) {
    // inc32: the last 32 bits, modulo 2^32 (§6.2).
    new DataView(counter.buffer).setUint32(12, (new DataView(counter.buffer).getUint32(12) + 1) >>> 0);
    const stream = aesBlock(key, counter);
    for (let i = at; i < Math.min(at + 16, plaintext.length); i++) ciphertext[i] = plaintext[i]! ^ stream[i - at]!;
  }
  const tag = xor(aesBlock(key, j0), gcmHash(hashKey, aad, ciphertext));
  return { ciphertext, tag };
}

/** §6.3 Algorithm 1, on BigInt: bit x0 is the most significant bit of the 128-bit number. */
function multiplyReference(x: bigint, y: bigint): bigint {
  const R = 0xe1n << 120n;
  let z = 0n;
  let v = y;
  for (let i = 127n; i >= 0n; i--) {
    if ((x >> i) & 1n) z ^= v;
    v = v & 1n ? (v >> 1n) ^ R : v >> 1n;
  }
  return z;
}
const toBig = (bytes: Uint8Array): bigint => BigInt(`0x${toHex(bytes) || '0'}`);
/** GHASH_H(X1 || … || Xm) by §6.4's fold, with the reference multiplication. */
function ghashReference(hashKey: Uint8Array, blocks: Uint8Array): bigint {
  const h = toBig(hashKey);
  let y = 0n;
  for (let at = 0; at < blocks.length; at += 16) y = multiplyReference(y ^ toBig(blocks.subarray(at, at + 16)), h);
  return y;
}
function ghashOurs(hashKey: Uint8Array, blocks: Uint8Array): bigint {
  const hash = new Ghash(hashKey);
  hash.absorb(blocks, 0, blocks.length);
  return toBig(hash.digest());
}

describe('GCM spec test cases 13–18 (AES-256)', () => {
  const K = 'feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308';
  const P =
    'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72' +
    '1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255';
  const P60 = P.slice(0, 120);
  const A = 'feedfacedeadbeeffeedfacedeadbeefabaddad2';
  const C =
    '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa' +
    '8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad';
  const cases: { name: string; key: string; iv: string; aad: string; plaintext: string; ciphertext?: string; tag: string }[] = [
    { name: '13', key: '00'.repeat(32), iv: '00'.repeat(12), aad: '', plaintext: '', ciphertext: '', tag: '530f8afbc74536b9a963b4f1c4cb738b' },
    {
      name: '14', key: '00'.repeat(32), iv: '00'.repeat(12), aad: '', plaintext: '00'.repeat(16),
      ciphertext: 'cea7403d4d606b6e074ec5d3baf39d18', tag: 'd0d1c8a799996bf0265b98b5d48ab919',
    },
    { name: '15', key: K, iv: 'cafebabefacedbaddecaf888', aad: '', plaintext: P, ciphertext: C, tag: 'b094dac5d93471bdec1a502270e3cc6c' },
    { name: '16', key: K, iv: 'cafebabefacedbaddecaf888', aad: A, plaintext: P60, ciphertext: C.slice(0, 120), tag: '76fc6ece0f4e1768cddf8853bb2d551b' },
    // 17 and 18: 64-bit and 480-bit IVs, so J0 itself is a GHASH; the ciphertext is checked against node's below.
    { name: '17', key: K, iv: 'cafebabefacedbad', aad: A, plaintext: P60, tag: '3a337dbf46a792c45e454913fe2ea8f2' },
    {
      name: '18', key: K, aad: A, plaintext: P60, tag: 'a44a8266ee1c8eb0c8b5d4cf5ae9f19a',
      iv:
        '9313225df88406e555909c5aff5269aa6a7a9538534f7da1e4c303d2a318a728' +
        'c3c0c95156809539fcf0e2429a6b525416aedbf5a0de6a57a637b39b',
    },
  ];
  for (const c of cases) {
    it(`test case ${c.name}`, () => {
      const { ciphertext, tag } = gcmFromEcb(hex(c.key), hex(c.iv), hex(c.aad), hex(c.plaintext));
      expect(toHex(tag)).toBe(c.tag);
      const node = createCipheriv('aes-256-gcm', hex(c.key), hex(c.iv));
      node.setAAD(hex(c.aad));
      const nodeCiphertext = Buffer.concat([node.update(hex(c.plaintext)), node.final()]).toString('hex');
      expect(toHex(ciphertext)).toBe(c.ciphertext ?? nodeCiphertext);
    });
  }

  it('test case 14: GHASH(H, {}, C) as listed', () => {
    const hashKey = aesBlock(new Uint8Array(32), new Uint8Array(16));
    expect(toHex(hashKey)).toBe('dc95c078a2408989ad48a21492842087');
    expect(toHex(gcmHash(hashKey, new Uint8Array(0), hex('cea7403d4d606b6e074ec5d3baf39d18')))).toBe('83de425c5edc5d498f382c441041ca92');
  });
});

interface AeadCase {
  tcId: number;
  key: string;
  iv: string;
  aad: string;
  msg: string;
  ct: string;
  tag: string;
  result: 'valid' | 'invalid' | 'acceptable';
  flags: string[];
}
interface AeadFile {
  testGroups: { ivSize: number; keySize: number; tagSize: number; tests: AeadCase[] }[];
}

describe('Project Wycheproof aes_gcm_test.json (vectors/wycheproof/)', () => {
  const file = JSON.parse(
    readFileSync(fileURLToPath(new URL('../../vectors/wycheproof/aes_gcm_test.json', import.meta.url)), 'utf8'),
  ) as AeadFile;
  const all = file.testGroups.flatMap((group) => group.tests);
  // A zero-length IV is refused by GCM itself (§5.2.1.1: 1 ≤ len(IV)), not by the tag: not a GHASH case.
  const cases = all.filter((c) => c.iv.length > 0);

  it('every case with an IV, every key size and IV length: the tag and ciphertext, or a refusal', () => {
    expect(all.length - cases.length).toBe(6);
    const failures: string[] = [];
    for (const c of cases) {
      const { ciphertext, tag } = gcmFromEcb(hex(c.key), hex(c.iv), hex(c.aad), hex(c.msg));
      const same = toHex(ciphertext) === c.ct && toHex(tag) === c.tag;
      if (same !== (c.result === 'valid')) failures.push(`tcId ${c.tcId} (${c.result}, ${c.flags.join(',')})`);
    }
    expect(failures).toEqual([]);
    expect(cases.length).toBe(310);
  });
});

describe('against node:crypto AES-GCM', () => {
  const bytes = (max: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength: max });

  it('gives its tag for random keys, nonces (96-bit and other lengths), texts and AAD', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(16, 24, 32).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
        fc.oneof(fc.uint8Array({ minLength: 12, maxLength: 12 }), fc.uint8Array({ minLength: 1, maxLength: 80 })),
        bytes(300),
        bytes(70),
        (key, iv, plaintext, aad) => {
          const node = createCipheriv(`aes-${key.length * 8}-gcm`, key, iv) as CipherGCM;
          node.setAAD(aad);
          const nodeCiphertext = Buffer.concat([node.update(plaintext), node.final()]);
          const { ciphertext, tag } = gcmFromEcb(key, iv, aad, plaintext);
          expect(toHex(ciphertext)).toBe(nodeCiphertext.toString('hex'));
          expect(toHex(tag)).toBe(node.getAuthTag().toString('hex'));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('past 64 KiB, where an instance switches to its 8-bit tables, at every length around the switch', () => {
    const key = hex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
    const iv = hex('cafebabefacedbaddecaf888');
    const long = new Uint8Array(70_000).map((_, i) => (i * 131 + 7) & 0xff);
    for (const length of [65_519, 65_520, 65_535, 65_536, 65_537, 65_552, 70_000]) {
      const plaintext = long.subarray(0, length);
      const node = createCipheriv('aes-256-gcm', key, iv);
      node.update(plaintext);
      node.final();
      expect(toHex(gcmFromEcb(key, iv, new Uint8Array(0), plaintext).tag), `length ${length}`).toBe(node.getAuthTag().toString('hex'));
    }
  });
});

describe('against a BigInt GF(2^128) multiplication (§6.3 Algorithm 1)', () => {
  const block = fc.uint8Array({ minLength: 16, maxLength: 16 });

  it('one block: GHASH_H(X) = X·H', () => {
    fc.assert(
      fc.property(block, block, (hashKey, x) => {
        expect(ghashOurs(hashKey, x)).toBe(multiplyReference(toBig(x), toBig(hashKey)));
      }),
      { numRuns: 500 },
    );
  });

  it('the one-bit blocks and the all-ones block, times H with its top and bottom bits set', () => {
    const keys = [hex('80000000000000000000000000000001'), hex('ffffffffffffffffffffffffffffffff'), hex('00000000000000000000000000000001')];
    for (const hashKey of keys) {
      for (let bit = 0; bit < 128; bit++) {
        const x = new Uint8Array(16);
        x[bit >> 3] = 0x80 >> (bit & 7);
        expect(ghashOurs(hashKey, x), `bit ${bit}`).toBe(multiplyReference(toBig(x), toBig(hashKey)));
      }
      const ones = new Uint8Array(16).fill(0xff);
      expect(ghashOurs(hashKey, ones)).toBe(multiplyReference(toBig(ones), toBig(hashKey)));
    }
  });

  it('several blocks: the fold Y_i = (Y_{i-1} ⊕ X_i)·H (§6.4)', () => {
    fc.assert(
      fc.property(block, fc.integer({ min: 1, max: 12 }).chain((n) => fc.uint8Array({ minLength: 16 * n, maxLength: 16 * n })), (hashKey, blocks) => {
        expect(ghashOurs(hashKey, blocks)).toBe(ghashReference(hashKey, blocks));
      }),
      { numRuns: 200 },
    );
  });

  it('with the 8-bit tables too: 4 100 blocks, the last ones past the switch', () => {
    const hashKey = hex('66e94bd4ef8a2c3b884cfa59ca342b2e');
    const blocks = new Uint8Array(16 * 4100).map((_, i) => (i * 197 + (i >> 8)) & 0xff);
    expect(ghashOurs(hashKey, blocks)).toBe(ghashReference(hashKey, blocks));
  });

  it('the length block for lengths of 2^29 bytes and more, whose bit counts need more than 32 bits', () => {
    const hashKey = hex('66e94bd4ef8a2c3b884cfa59ca342b2e');
    const lengthBlock = (aadBytes: number, ciphertextBytes: number): Uint8Array => {
      const out = new Uint8Array(16);
      const view = new DataView(out.buffer);
      view.setBigUint64(0, BigInt(aadBytes) * 8n);
      view.setBigUint64(8, BigInt(ciphertextBytes) * 8n);
      return out;
    };
    const cases: [number, number][] = [
      [0x2000_0000, 0],
      [0, 0x2000_0000],
      [2 ** 32, 2 ** 33 + 5],
      [2 ** 36 - 1, 3 * 2 ** 29 + 17],
    ];
    for (const [aadBytes, ciphertextBytes] of cases) {
      const hash = new Ghash(hashKey);
      hash.absorbLengths(aadBytes, ciphertextBytes);
      expect(toBig(hash.digest()), `${aadBytes}, ${ciphertextBytes}`).toBe(ghashReference(hashKey, lengthBlock(aadBytes, ciphertextBytes)));
    }
  });

  it('refuses a hash key that is not 16 bytes', () => {
    expect(() => new Ghash(new Uint8Array(15))).toThrow(/16 bytes, got 15/);
  });
});

describe('Ghash refuses a hash key of the wrong length', () => {
  it.each([0, 15, 17, 32])('%i bytes: InvalidKeyError naming the length', (length) => {
    let caught: unknown;
    try {
      new Ghash(new Uint8Array(length));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidKeyError);
    expect((caught as InvalidKeyError).code).toBe('ERR_ARK_E2EE_INVALID_KEY');
    expect((caught as Error).message).toContain(`16 bytes, got ${length}`);
  });
});
