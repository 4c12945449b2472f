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

  constructor(backend: CryptoBackend, key: Uint8Array, nonce: Uint8Array) {
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
    const ghash = new ResumableGhash(this.hashKey, remaining);
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
