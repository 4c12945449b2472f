/**
 * Where does the first AES-GCM ciphertext in a run of several, laid end to end, stop?
 *
 * The service may send an answer as many ciphertexts (all under one key and nonce) written one
 * after the other with no separator (protocol §5). Trying every possible end with a full GCM
 * open costs O(length) per try, so O(length²) per piece. Instead we compute each candidate's
 * tag from one running GHASH state (NIST SP 800-38D §7.2): the ciphertext's full blocks are
 * absorbed once as the candidate end moves forward, and each candidate costs only its partial
 * last block and the length block. The whole run is then linear in its length.
 *
 * The GHASH itself is noble's; we only keep its running state between candidates.
 *
 * Once a piece's tag has authenticated, its plaintext is GCTR(inc32(J0), C) (§7.2 step 3):
 * since every piece starts from the same key and nonce, that is the same keystream each time,
 * taken once from the backend (the GCM encryption of zeros) and XORed in. No piece needs a
 * cipher object of its own, and no failing trial costs a thrown exception.
 */
import { GHASH } from '@noble/ciphers/_polyval.js';
import { GCM_TAG_LENGTH, type CryptoBackend } from './backend.js';

const BLOCK = 16;

/** noble's GHASH with its accumulator saved and restored around each candidate's tail. */
class ResumableGhash extends GHASH {
  private readonly saved = new Uint32Array(4);

  save(): void {
    this.saved[0] = this.s0;
    this.saved[1] = this.s1;
    this.saved[2] = this.s2;
    this.saved[3] = this.s3;
  }

  /** Back to the empty state, for the next piece: the key's tables are kept. */
  reset(): void {
    this.s0 = this.s1 = this.s2 = this.s3 = 0;
    this.finished = false;
  }

  restore(): void {
    this.s0 = this.saved[0]!;
    this.s1 = this.saved[1]!;
    this.s2 = this.saved[2]!;
    this.s3 = this.saved[3]!;
    this.finished = false;
  }
}

/** GCM with a fixed key and 96-bit nonce, able to test candidate ciphertext ends cheaply. */
export class GcmBoundaryFinder {
  private readonly hashKey: Uint8Array;
  private readonly tagMask: Uint8Array;
  private readonly lengthBlock = new Uint8Array(BLOCK);
  private readonly tag = new Uint8Array(BLOCK);
  /** One GHASH (and its key tables) for every piece of the answer, reset between pieces. */
  private ghash: ResumableGhash | undefined;
  private keystream: Uint8Array = new Uint8Array(0);

  constructor(
    private readonly backend: CryptoBackend,
    private readonly key: Uint8Array,
    private readonly nonce: Uint8Array,
  ) {
    // H = E(K, 0^128); the tag is GHASH_H(C) xor E(K, J0) with J0 = nonce || 0^31 || 1 (§7.1).
    this.hashKey = backend.encryptBlock(key, new Uint8Array(BLOCK));
    const j0 = new Uint8Array(BLOCK);
    j0.set(nonce, 0);
    j0[BLOCK - 1] = 1;
    this.tagMask = backend.encryptBlock(key, j0);
  }

  /**
   * The length of the shortest sealed message (`ciphertext || tag`) at `bytes[start..]` whose
   * tag authenticates, among lengths `L` with `L >= 16` and either `L % step == 0` or
   * `start + L == bytes.length`. `undefined` when none does.
   */
  firstEnd(bytes: Uint8Array, start: number, step: number): number | undefined {
    const remaining = bytes.length - start;
    if (remaining < GCM_TAG_LENGTH) return undefined;
    // The size hint picks noble's table size: pieces are short, so a mid-size table is the
    // right trade between building it once and hashing each block.
    this.ghash ??= new ResumableGhash(this.hashKey, 1024);
    const ghash = this.ghash;
    ghash.reset();
    let absorbed = 0; // ciphertext bytes already absorbed, always whole blocks
    const firstCandidate = Math.ceil(GCM_TAG_LENGTH / step) * step;
    for (let length = firstCandidate; ; length += step) {
      if (length > remaining) length = remaining;
      const ciphertextLength = length - GCM_TAG_LENGTH;
      const fullBlocksEnd = ciphertextLength - (ciphertextLength % BLOCK);
      if (fullBlocksEnd > absorbed) {
        ghash.update(bytes.subarray(start + absorbed, start + fullBlocksEnd));
        absorbed = fullBlocksEnd;
      }
      if (this.tagMatches(ghash, bytes, start, absorbed, ciphertextLength)) return length;
      if (length === remaining) return undefined;
    }
  }

  /**
   * The plaintext of the sealed message `bytes[start..start+length)`, whose tag `firstEnd`
   * has just authenticated. Never call it for bytes that were not authenticated.
   */
  plaintextOf(bytes: Uint8Array, start: number, length: number): Uint8Array {
    const size = length - GCM_TAG_LENGTH;
    if (this.keystream.length < size) {
      const grown = Math.max(size, this.keystream.length * 2, 256);
      this.keystream = this.backend.seal(this.key, this.nonce, new Uint8Array(grown)).subarray(0, grown);
    }
    const plain = new Uint8Array(size);
    const keystream = this.keystream;
    for (let i = 0; i < size; i++) plain[i] = bytes[start + i]! ^ keystream[i]!;
    return plain;
  }

  private tagMatches(
    ghash: ResumableGhash,
    bytes: Uint8Array,
    start: number,
    absorbed: number,
    ciphertextLength: number,
  ): boolean {
    ghash.save();
    if (ciphertextLength > absorbed) {
      ghash.update(bytes.subarray(start + absorbed, start + ciphertextLength));
    }
    // len(A) = 0 (64 bits) || len(C) in bits (64 bits), big-endian.
    const bits = ciphertextLength * 8;
    const view = new DataView(this.lengthBlock.buffer);
    view.setUint32(8, Math.floor(bits / 0x1_0000_0000), false);
    view.setUint32(12, bits >>> 0, false);
    ghash.update(this.lengthBlock);
    ghash.digestInto(this.tag);
    ghash.restore();
    const tagStart = start + ciphertextLength;
    let diff = 0;
    for (let i = 0; i < BLOCK; i++) diff |= (this.tag[i]! ^ this.tagMask[i]!) ^ bytes[tagStart + i]!;
    return diff === 0;
  }
}
