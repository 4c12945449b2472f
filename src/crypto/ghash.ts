/**
 * GHASH (NIST SP 800-38D §6.4): the hash of GCM's tag, over GF(2^128) (§6.3), written here so
 * that GcmBoundaryFinder can drive it block by block and try a candidate end without copying
 * (noble's GHASH offers that only through an undocumented internal class).
 *
 * Representation. A block X = x0 x1 … x127 (§6.3: x0 is the leftmost bit, the top bit of the
 * first byte) is held as four 32-bit words read big-endian, word 0 = bytes 0–3. The spec's right
 * shift `X >> 1` (§6.3 Algorithm 1, step 3) is then the ordinary shift of the 128-bit number,
 * and R = 11100001 || 0^120 is 0xe1000000 in word 0.
 *
 * Tables (Shoup's method, one table per position). X·H is linear over GF(2) in X, so X·H is the
 * XOR, over every 4- or 8-bit window of X, of (that window alone)·H. For each window position a
 * table holds the product of each of its 16 or 256 values with H; a block then costs 32 or 16
 * table lookups and no reduction. Each new hash starts with the 4-bit tables (512 entries, 8 KiB,
 * cheap to build); once an instance has hashed 64 KiB, it builds the 8-bit ones (4 096 entries,
 * 64 KiB) and uses them from then on: half the lookups per block, paid for only by long inputs.
 * Both give the same products (tested against a BigInt multiplication and node:crypto's tags).
 *
 * Timing. This is not constant time: the table entries read depend on the running value Y, which
 * depends on H, so which cache lines are touched depends on the hash key. We accept that here
 * because of what an attacker could observe and what it would buy:
 * - It is used only to authenticate and split answers: the bytes hashed are ciphertexts the
 *   server sent (public to whoever sees the traffic), and H = E(K, 0^128) comes from the
 *   request's own key, made from a fresh ephemeral ECDH for every request (protocol §2, §3).
 * - Reading H through the cache needs code running on the same machine, on the same cores, while
 *   the answer is decrypted. Over the network, the time of a few table lookups is lost in noise.
 * - H is no secret from anyone who sees the ciphertexts anyway: every request and its answer use
 *   one key and one nonce for all their texts, and from two ciphertexts under one nonce H can be
 *   computed directly (the "forbidden attack"; docs/security.md, "The protocol's own limits").
 *   A timing channel on H gives a local attacker nothing a passive observer of the traffic lacks.
 * - The boundary search's early exits (UTF-8 check, first matching tag) make its running time
 *   depend on the plaintext's shape by design; the AES itself (H, E(K, J0), the key stream) stays
 *   with the backend (OpenSSL, or noble's AES).
 * noble's GHASH, used before this file, is table-driven in the same way.
 */

import { InvalidKeyError } from '../errors.js';

const BLOCK = 16;
/** GHASH's reduction constant R (§6.3), in the top byte of word 0. */
const R = 0xe1000000 | 0;
/** Blocks hashed by one instance after which it switches to the 8-bit tables: 64 KiB. */
const WIDE_AFTER_BLOCKS = 4096;

/** Big-endian 32-bit word at `offset`. */
export function readWord(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
}

/** Big-endian word `index` (0–3) of the zero-padded block `bytes[from..to)`, `to - from <= 16`. */
function paddedWord(bytes: Uint8Array, from: number, to: number, index: number): number {
  let out = 0;
  const at = from + index * 4;
  for (let i = 0; i < 4; i++) out |= (at + i < to ? bytes[at + i]! : 0) << (24 - 8 * i);
  return out;
}

/**
 * H·x^i for i = 0..127 (the values V takes in §6.3 Algorithm 1): the products of H with every
 * block that has a single bit set, bit i. Four words each, 512 in all.
 */
function powers(hashKey: Uint8Array): Int32Array {
  const out = new Int32Array(128 * 4);
  let v0 = readWord(hashKey, 0);
  let v1 = readWord(hashKey, 4);
  let v2 = readWord(hashKey, 8);
  let v3 = readWord(hashKey, 12);
  for (let i = 0; i < 128; i++) {
    out[i * 4] = v0;
    out[i * 4 + 1] = v1;
    out[i * 4 + 2] = v2;
    out[i * 4 + 3] = v3;
    // V ← V >> 1, and V ⊕ R when the bit shifted out (x127, the lowest bit of word 3) was 1.
    const carry = -(v3 & 1) & R;
    v3 = (v3 >>> 1) | (v2 << 31);
    v2 = (v2 >>> 1) | (v1 << 31);
    v1 = (v1 >>> 1) | (v0 << 31);
    v0 = (v0 >>> 1) ^ carry;
  }
  return out;
}

/**
 * One table per `width`-bit window position: entry (position, value) is the block holding
 * `value` at that position (its top bit first, as §6.3 orders bits) and zeros elsewhere, times H.
 * Built from the single-bit products: each entry is a smaller one XOR one power.
 */
function windowTables(power: Int32Array, width: number): Int32Array {
  const values = 1 << width;
  const positions = 128 / width;
  const table = new Int32Array(positions * values * 4);
  for (let position = 0; position < positions; position++) {
    const base = position * values * 4;
    for (let value = 1; value < values; value++) {
      const lowest = value & -value;
      // The bit `lowest` of the window is bit (width - 1 - log2(lowest)) of the window, counted from its top.
      const bit = position * width + width - 32 + Math.clz32(lowest);
      const from = base + (value ^ lowest) * 4;
      const at = base + value * 4;
      for (let w = 0; w < 4; w++) table[at + w] = table[from + w]! ^ power[bit * 4 + w]!;
    }
  }
  return table;
}

/** GHASH_H, absorbed block by block; the running value Y is public so that a caller can save and restore it. */
export class Ghash {
  /** Y (§6.4), four big-endian words. */
  y0 = 0;
  y1 = 0;
  y2 = 0;
  y3 = 0;
  private readonly power: Int32Array;
  private table: Int32Array;
  /** `table` holds the 8-bit tables (else the 4-bit ones). */
  private wide = false;
  private blocksHashed = 0;

  /** `hashKey`: H = E(K, 0^128), 16 bytes. */
  constructor(hashKey: Uint8Array) {
    if (hashKey.length !== BLOCK) throw new InvalidKeyError(`GHASH key must be 16 bytes, got ${hashKey.length}`);
    this.power = powers(hashKey);
    this.table = windowTables(this.power, 4);
  }

  /** Back to Y0 = 0^128, for a new hash under the same key (the tables are kept). */
  reset(): void {
    this.y0 = this.y1 = this.y2 = this.y3 = 0;
  }

  /**
   * `bytes[from..to)` as GCM absorbs a field (§7.1 step 5): its whole blocks, then the rest
   * padded with zeros to a block, if any.
   */
  absorb(bytes: Uint8Array, from: number, to: number): void {
    let at = from;
    for (; at + BLOCK <= to; at += BLOCK) {
      this.block(readWord(bytes, at), readWord(bytes, at + 4), readWord(bytes, at + 8), readWord(bytes, at + 12));
    }
    if (at < to) {
      this.block(paddedWord(bytes, at, to, 0), paddedWord(bytes, at, to, 1), paddedWord(bytes, at, to, 2), paddedWord(bytes, at, to, 3));
    }
  }

  /** The length block [len(A)]64 || [len(C)]64, lengths in bits (§7.1 step 5). */
  absorbLengths(aadBytes: number, ciphertextBytes: number): void {
    this.block(highBits(aadBytes), (aadBytes * 8) | 0, highBits(ciphertextBytes), (ciphertextBytes * 8) | 0);
  }

  /** Y as 16 bytes. */
  digest(): Uint8Array {
    const out = new Uint8Array(BLOCK);
    const view = new DataView(out.buffer);
    view.setInt32(0, this.y0);
    view.setInt32(4, this.y1);
    view.setInt32(8, this.y2);
    view.setInt32(12, this.y3);
    return out;
  }

  /** Y ← (Y ⊕ X)·H for one block X (§6.4 step 3). */
  block(x0: number, x1: number, x2: number, x3: number): void {
    if (++this.blocksHashed === WIDE_AFTER_BLOCKS) {
      this.table = windowTables(this.power, 8);
      this.wide = true;
    }
    if (this.wide) this.times8(this.y0 ^ x0, this.y1 ^ x1, this.y2 ^ x2, this.y3 ^ x3);
    else this.times4(this.y0 ^ x0, this.y1 ^ x1, this.y2 ^ x2, this.y3 ^ x3);
  }

  /** Y ← A·H with the 8-bit tables: 16 positions of 256 entries (1 024 words) each. */
  private times8(a0: number, a1: number, a2: number, a3: number): void {
    const table = this.table;
    let z0 = 0;
    let z1 = 0;
    let z2 = 0;
    let z3 = 0;
    for (let position = 0; position < 16; position++) {
      const word = position < 4 ? a0 : position < 8 ? a1 : position < 12 ? a2 : a3;
      const value = (word >>> (24 - ((position & 3) << 3))) & 0xff;
      const at = (position << 10) | (value << 2);
      z0 ^= table[at]!;
      z1 ^= table[at + 1]!;
      z2 ^= table[at + 2]!;
      z3 ^= table[at + 3]!;
    }
    this.y0 = z0;
    this.y1 = z1;
    this.y2 = z2;
    this.y3 = z3;
  }

  /** Y ← A·H with the 4-bit tables: 32 positions of 16 entries (64 words) each. */
  private times4(a0: number, a1: number, a2: number, a3: number): void {
    const table = this.table;
    let z0 = 0;
    let z1 = 0;
    let z2 = 0;
    let z3 = 0;
    for (let position = 0; position < 32; position++) {
      const word = position < 8 ? a0 : position < 16 ? a1 : position < 24 ? a2 : a3;
      const value = (word >>> (28 - ((position & 7) << 2))) & 0xf;
      const at = (position << 6) | (value << 2);
      z0 ^= table[at]!;
      z1 ^= table[at + 1]!;
      z2 ^= table[at + 2]!;
      z3 ^= table[at + 3]!;
    }
    this.y0 = z0;
    this.y1 = z1;
    this.y2 = z2;
    this.y3 = z3;
  }
}

/** The top 32 bits of the 64-bit bit count of `bytes` bytes. */
function highBits(bytes: number): number {
  return Math.floor(bytes / 0x2000_0000) | 0;
}

/** GHASH_H(A || 0^v || C || 0^u || [len(A)]64 || [len(C)]64): the hash GCM's tag is made of (§7.1 step 5). */
export function gcmHash(hashKey: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  const hash = new Ghash(hashKey);
  hash.absorb(aad, 0, aad.length);
  hash.absorb(ciphertext, 0, ciphertext.length);
  hash.absorbLengths(aad.length, ciphertext.length);
  return hash.digest();
}
