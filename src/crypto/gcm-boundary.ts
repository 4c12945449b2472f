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
 * The GHASH is our own (./ghash.ts, §6.4): its running value can be saved before a candidate's
 * last blocks and restored after, and its per-key tables are built once per finder, widened
 * once the finder has hashed 64 KiB.
 */
import { GCM_TAG_LENGTH, type CryptoBackend } from './backend.js';
import { Ghash, readWord } from './ghash.js';

const BLOCK = 16;
/** The key stream is first computed for this many bytes, then doubled as needed. */
const FIRST_KEY_STREAM_BYTES = 1024;

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
  private readonly ghash: Ghash;
  /** E(K, J0) as four big-endian words: the tag is GHASH xor this (§7.1 step 6). */
  private readonly mask: [number, number, number, number];
  private keyStream: Uint8Array = new Uint8Array(0);

  constructor(
    private readonly backend: CryptoBackend,
    private readonly key: Uint8Array,
    private readonly nonce: Uint8Array,
  ) {
    // H = E(K, 0^128); J0 = nonce || 0^31 || 1 for a 96-bit nonce (§7.1 steps 1 and 2).
    this.ghash = new Ghash(backend.encryptBlock(key, new Uint8Array(BLOCK)));
    const j0 = new Uint8Array(BLOCK);
    j0.set(nonce, 0);
    j0[BLOCK - 1] = 1;
    const tagMask = backend.encryptBlock(key, j0);
    this.mask = [readWord(tagMask, 0), readWord(tagMask, 4), readWord(tagMask, 8), readWord(tagMask, 12)];
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
      length = Math.min(length, remaining);
      if (length > maxLength && length < remaining) {
        this.lastMiss = 'too-long';
        return undefined;
      }
      const ciphertextLength = length - GCM_TAG_LENGTH;
      if (utf8) {
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
      // Candidates only grow, so this block-aligned end never moves back.
      const fullBlocksEnd = ciphertextLength - (ciphertextLength % BLOCK);
      ghash.absorb(bytes, start + absorbed, start + fullBlocksEnd);
      absorbed = fullBlocksEnd;
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
    this.ghash.absorb(bytes, 0, fullBlocksEnd);
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

  /**
   * Whether the 16 bytes after `bytes[start..start+ciphertextLength)` are its tag, the GHASH
   * of its first `absorbed` bytes (whole blocks) being already in the running value. That value
   * is left as it was, for the next candidate.
   */
  private tagMatches(bytes: Uint8Array, start: number, absorbed: number, ciphertextLength: number): boolean {
    const ghash = this.ghash;
    const { y0, y1, y2, y3 } = ghash;
    // The partial last block, zero-padded, then the length block: len(A) = 0, len(C).
    ghash.absorb(bytes, start + absorbed, start + ciphertextLength);
    ghash.absorbLengths(0, ciphertextLength);
    const tag = start + ciphertextLength;
    const [m0, m1, m2, m3] = this.mask;
    // Compared without an early exit.
    const diff =
      (ghash.y0 ^ m0 ^ readWord(bytes, tag)) |
      (ghash.y1 ^ m1 ^ readWord(bytes, tag + 4)) |
      (ghash.y2 ^ m2 ^ readWord(bytes, tag + 8)) |
      (ghash.y3 ^ m3 ^ readWord(bytes, tag + 12));
    ghash.y0 = y0;
    ghash.y1 = y1;
    ghash.y2 = y2;
    ghash.y3 = y3;
    return diff === 0;
  }
}
