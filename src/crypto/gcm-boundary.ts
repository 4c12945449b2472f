/**
 * Where does the first AES-GCM ciphertext in a run of several, laid end to end, stop? And what
 * does it say?
 *
 * The service may send an answer as many ciphertexts (all under one key and nonce) written one
 * after the other with no separator (protocol §5). Trying every possible end with a full GCM
 * open costs O(length) per try, so O(length²) per piece. Instead we compute each candidate's
 * tag from one running GHASH state (NIST SP 800-38D §7.2): the ciphertext's full blocks are
 * absorbed once as the candidate end moves forward, and each candidate costs only its partial
 * last block and the length block. The whole run is then linear in its length.
 *
 * Once a piece's tag has authenticated, its plaintext is GCTR(inc32(J0), C) (§7.2 step 3):
 * since every piece starts from the same key and nonce, that is the same keystream each time,
 * taken once from the backend (the GCM encryption of zeros), grown as longer pieces come, and
 * XORed in. No piece needs a cipher object of its own, and no failing trial costs a thrown
 * exception: a short piece costs a few GHASH blocks and an XOR, ~0.5 µs instead of ~3 µs.
 *
 * The GHASH multiply is noble's (its per-key tables are built once per finder); we feed it
 * 32-bit words read straight from the bytes, without the copies its `update` makes on every
 * call, and keep its running state between candidates.
 */
import { GHASH } from '@noble/ciphers/_polyval.js';
import { GCM_TAG_LENGTH, type CryptoBackend } from './backend.js';

const BLOCK = 16;
/** The key stream is first computed for this many bytes, then doubled as needed. */
const FIRST_KEY_STREAM_BYTES = 1024;

/** Little-endian 32-bit word at `offset`: the word order noble's GHASH blocks use. */
function word(bytes: Uint8Array, offset: number): number {
  return bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16) | (bytes[offset + 3]! << 24);
}

/** Word `index` (0–3) of the zero-padded block `bytes[from..to)`, `to - from < 16`. */
function partialWord(bytes: Uint8Array, from: number, to: number, index: number): number {
  let out = 0;
  const at = from + index * 4;
  for (let i = 0; i < 4 && at + i < to; i++) out |= bytes[at + i]! << (8 * i);
  return out;
}

/** Byte-swapped 32-bit word: a big-endian field read as a little-endian word. */
function swap32(value: number): number {
  return ((value & 0xff) << 24) | ((value & 0xff00) << 8) | ((value >>> 8) & 0xff00) | (value >>> 24);
}

/** noble's GHASH, driven block by block, able to try a candidate end and come back. */
class BlockGhash extends GHASH {
  /** The last candidate's GHASH, as four little-endian words. */
  t0 = 0;
  t1 = 0;
  t2 = 0;
  t3 = 0;

  reset(): void {
    this.s0 = this.s1 = this.s2 = this.s3 = 0;
  }

  /** Absorbs the whole blocks of `bytes[from..to)`; `to - from` is a multiple of 16. */
  blocks(bytes: Uint8Array, from: number, to: number): void {
    for (let i = from; i < to; i += BLOCK) {
      this._updateBlock(word(bytes, i), word(bytes, i + 4), word(bytes, i + 8), word(bytes, i + 12));
    }
  }

  /**
   * GHASH of what was absorbed, then `bytes[from..to)` (shorter than a block, zero-padded),
   * then the length block for `ciphertextBytes`, into t0..t3; the running state is left as it was.
   */
  candidate(bytes: Uint8Array, from: number, to: number, ciphertextBytes: number): void {
    const { s0, s1, s2, s3 } = this;
    if (to > from) {
      this._updateBlock(
        partialWord(bytes, from, to, 0),
        partialWord(bytes, from, to, 1),
        partialWord(bytes, from, to, 2),
        partialWord(bytes, from, to, 3),
      );
    }
    // The length block: len(A) = 0, len(C) in bits, both 64-bit big-endian.
    const bits = ciphertextBytes * 8;
    this._updateBlock(0, 0, swap32(Math.floor(bits / 0x1_0000_0000)), swap32(bits >>> 0));
    this.t0 = this.s0;
    this.t1 = this.s1;
    this.t2 = this.s2;
    this.t3 = this.s3;
    this.s0 = s0;
    this.s1 = s1;
    this.s2 = s2;
    this.s3 = s3;
  }
}

/** Why a boundary search found no end: no tag matched, the plaintext cannot be UTF-8, or the bound was reached. */
export type BoundaryMiss = 'no-tag' | 'not-utf8' | 'too-long';

export interface BoundarySearch {
  /** Only ends whose plaintext is well-formed UTF-8 (see `firstEnd`). */
  utf8?: boolean;
  /** The longest sealed message tried, the end of the bytes excepted. */
  maxLength?: number;
}

/** GCM with a fixed key and 96-bit nonce, able to find and open ciphertexts laid end to end. */
export class GcmBoundaryFinder {
  private readonly ghash: BlockGhash;
  /** E(K, J0) as four little-endian words: the tag is GHASH xor this (§7.1). */
  private readonly mask: [number, number, number, number];
  private keyStream: Uint8Array = new Uint8Array(0);

  /** `expectedLength`: about how many bytes will be searched, to size the GHASH tables. */
  constructor(
    private readonly backend: CryptoBackend,
    private readonly key: Uint8Array,
    private readonly nonce: Uint8Array,
    expectedLength = 1024,
  ) {
    // H = E(K, 0^128); J0 = nonce || 0^31 || 1 for a 96-bit nonce.
    this.ghash = new BlockGhash(backend.encryptBlock(key, new Uint8Array(BLOCK)), expectedLength);
    const j0 = new Uint8Array(BLOCK);
    j0.set(nonce, 0);
    j0[BLOCK - 1] = 1;
    const tagMask = backend.encryptBlock(key, j0);
    this.mask = [word(tagMask, 0), word(tagMask, 4), word(tagMask, 8), word(tagMask, 12)];
  }

  /** Tag checks made so far: the unit of the search's work (each is two GHASH blocks). */
  candidates = 0;
  /** Why the last `firstEnd` found no end. */
  lastMiss: BoundaryMiss = 'no-tag';

  /**
   * The length of the shortest sealed message (`ciphertext || tag`) at `bytes[start..]` whose
   * tag authenticates, among lengths `L` with `L >= 16` and either `L % step == 0` or
   * `start + L == bytes.length`. `undefined` when none does (`lastMiss` says why).
   *
   * With `utf8`, only ends whose plaintext is well-formed UTF-8 ending on a character boundary
   * are tried, and the search stops at the first byte that no UTF-8 text can hold: a plaintext
   * is a prefix of every longer candidate's, so none of them can be text either. Bytes not made
   * with the key decrypt to noise, which fails within a few bytes; without that, such garbage
   * costs a tag check every `step` bytes to its very end.
   *
   * With `maxLength`, candidates longer than that are not tried (`lastMiss` 'too-long'),
   * except the end of `bytes`, which the caller tries whole more cheaply.
   */
  firstEnd(bytes: Uint8Array, start: number, step: number, search: BoundarySearch = {}): number | undefined {
    const remaining = bytes.length - start;
    this.lastMiss = 'no-tag';
    if (remaining < GCM_TAG_LENGTH) return undefined;
    const ghash = this.ghash;
    ghash.reset();
    const maxLength = search.maxLength ?? Number.POSITIVE_INFINITY;
    const utf8 = search.utf8 === true;
    // UTF-8 well-formedness (the WHATWG decoder's rules) of the plaintext decrypted so far.
    let checked = 0;
    let needed = 0;
    let lower = 0x80;
    let upper = 0xbf;
    let absorbed = 0; // ciphertext bytes already absorbed, always whole blocks
    const firstCandidate = Math.ceil(GCM_TAG_LENGTH / step) * step;
    for (let length = firstCandidate; ; length += step) {
      if (length > remaining) length = remaining;
      if (length > maxLength && length < remaining) {
        this.lastMiss = 'too-long';
        return undefined;
      }
      const ciphertextLength = length - GCM_TAG_LENGTH;
      if (utf8 && ciphertextLength > checked) {
        const stream = this.keyStreamOf(ciphertextLength);
        for (; checked < ciphertextLength; checked++) {
          const byte = bytes[start + checked]! ^ stream[checked]!;
          if (needed === 0) {
            if (byte < 0x80) continue;
            if (byte >= 0xc2 && byte <= 0xdf) needed = 1;
            else if (byte >= 0xe0 && byte <= 0xef) {
              needed = 2;
              if (byte === 0xe0) lower = 0xa0;
              else if (byte === 0xed) upper = 0x9f;
            } else if (byte >= 0xf0 && byte <= 0xf4) {
              needed = 3;
              if (byte === 0xf0) lower = 0x90;
              else if (byte === 0xf4) upper = 0x8f;
            } else {
              this.lastMiss = 'not-utf8';
              return undefined;
            }
          } else {
            if (byte < lower || byte > upper) {
              this.lastMiss = 'not-utf8';
              return undefined;
            }
            lower = 0x80;
            upper = 0xbf;
            needed--;
          }
        }
      }
      const fullBlocksEnd = ciphertextLength - (ciphertextLength % BLOCK);
      if (fullBlocksEnd > absorbed) {
        ghash.blocks(bytes, start + absorbed, start + fullBlocksEnd);
        absorbed = fullBlocksEnd;
      }
      // A plaintext that ends inside a character is not a text of its own: not a candidate.
      if (!(utf8 && needed !== 0)) {
        this.candidates++;
        if (this.tagMatches(bytes, start, absorbed, ciphertextLength)) return length;
      }
      if (length === remaining) {
        if (utf8 && needed !== 0) this.lastMiss = 'not-utf8';
        return undefined;
      }
    }
  }

  /** The plaintext of `bytes` as one sealed message (`ciphertext || tag`), if it authenticates. */
  open(bytes: Uint8Array): Uint8Array | undefined {
    if (bytes.length < GCM_TAG_LENGTH) return undefined;
    const ciphertextLength = bytes.length - GCM_TAG_LENGTH;
    const fullBlocksEnd = ciphertextLength - (ciphertextLength % BLOCK);
    this.ghash.reset();
    this.ghash.blocks(bytes, 0, fullBlocksEnd);
    if (!this.tagMatches(bytes, 0, fullBlocksEnd, ciphertextLength)) return undefined;
    return this.plaintextOf(bytes, 0, bytes.length);
  }

  /**
   * The plaintext of the sealed message `bytes[start..start+length)`, whose tag `firstEnd`
   * has just authenticated. Never call it for bytes that were not authenticated.
   */
  plaintextOf(bytes: Uint8Array, start: number, length: number): Uint8Array {
    const out = new Uint8Array(length - GCM_TAG_LENGTH);
    this.plaintextInto(bytes, start, length, out, 0);
    return out;
  }

  /** `plaintextOf`, written into `out` at `at` (room for `length - 16` bytes is the caller's). */
  plaintextInto(bytes: Uint8Array, start: number, length: number, out: Uint8Array, at: number): void {
    const size = length - GCM_TAG_LENGTH;
    const stream = this.keyStreamOf(size);
    for (let i = 0; i < size; i++) out[at + i] = bytes[start + i]! ^ stream[i]!;
  }

  /** The key stream, at least `size` bytes of it. */
  private keyStreamOf(size: number): Uint8Array {
    if (this.keyStream.length < size) {
      const grown = Math.max(size, this.keyStream.length * 2, FIRST_KEY_STREAM_BYTES);
      // GCM encrypts with the key stream E(K, inc32(J0)), E(K, inc32²(J0)), …: sealing zeros
      // under the same key and nonce gives exactly that stream (and a tag, dropped).
      this.keyStream = this.backend.seal(this.key, this.nonce, new Uint8Array(grown)).subarray(0, grown);
    }
    return this.keyStream;
  }

  private tagMatches(bytes: Uint8Array, start: number, absorbed: number, ciphertextLength: number): boolean {
    const ghash = this.ghash;
    ghash.candidate(bytes, start + absorbed, start + ciphertextLength, ciphertextLength);
    const tag = start + ciphertextLength;
    const [m0, m1, m2, m3] = this.mask;
    // Compared without an early exit.
    const diff =
      (ghash.t0 ^ m0 ^ word(bytes, tag)) |
      (ghash.t1 ^ m1 ^ word(bytes, tag + 4)) |
      (ghash.t2 ^ m2 ^ word(bytes, tag + 8)) |
      (ghash.t3 ^ m3 ^ word(bytes, tag + 12));
    return diff === 0;
  }
}
