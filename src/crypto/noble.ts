/**
 * The noble backend: audited pure-JavaScript primitives that run on any runtime
 * (browsers, edge functions, Deno, Bun) with no native code.
 */
import { ecdh, weierstrass } from '@noble/curves/abstract/weierstrass.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { InvalidKeyError } from '../errors.js';
import {
  assertHkdfLength,
  assertUncompressedPoint,
  BAD_SCALAR,
  NOT_ON_CURVE,
  type CryptoBackend,
  type KeyAgreement,
} from './backend.js';
import { nobleAead } from './noble-aead.js';
import { RecentPoints } from './recent-points.js';

/**
 * P-256 (SEC 2 §2.4.2, FIPS 186-5 §3.2.1.3) for ECDH only: built from noble's Weierstrass code
 * with the curve's published parameters instead of taken from nist.js, so that a browser bundle
 * carries neither ECDSA nor the other NIST curves and their hash-to-curve code.
 */
const makeP256 = () =>
  ecdh(
    weierstrass({
      p: BigInt('0xffffffff00000001000000000000000000000000ffffffffffffffffffffffff'),
      n: BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551'),
      h: BigInt(1),
      a: BigInt('0xffffffff00000001000000000000000000000000fffffffffffffffffffffffc'),
      b: BigInt('0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b'),
      Gx: BigInt('0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296'),
      Gy: BigInt('0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5'),
    }),
  );

/**
 * Built on first use, not at load: a bundler keeps a module-level call wherever the module is
 * imported, and a program that never agrees on noble (WebCrypto sessions, node:crypto) should
 * neither carry nor build the curve.
 */
let curve: ReturnType<typeof makeP256> | undefined;
const p256 = (): ReturnType<typeof makeP256> => (curve ??= makeP256());

type P256Point = ReturnType<ReturnType<typeof makeP256>['Point']['fromBytes']>;

/** Peer points kept (recent-points.ts); the window of the tables a reused one gets (~0.9 MB, ~0.15 s, ~4× faster ECDH). */
const PEER_CACHE_SIZE = 4;
const PEER_WINDOW = 8;

/**
 * The generator for our public keys: noble's base point carries window-6 tables; a copy of our
 * own (so that noble's shared BASE is left as it is) gets window-8 ones, a quarter fewer point
 * additions per key. Made with the first peer tables: only a program that agrees repeatedly
 * pays its ~0.15 s and ~1 MB.
 */
let generator: P256Point | undefined;

const peers = /* @__PURE__ */ new RecentPoints<P256Point>(
  PEER_CACHE_SIZE,
  (bytes) => {
    // fromBytes checks the point is on the curve; infinity has no uncompressed encoding.
    const point = p256().Point.fromBytes(bytes);
    point.assertValidity();
    return point;
  },
  (point) => {
    point.precompute(PEER_WINDOW, false);
    generator ??= p256().Point.BASE.multiply(1n).precompute(PEER_WINDOW, false);
  },
);

export const nobleBackend: CryptoBackend = {
  name: 'noble',

  agree(peerPublicKey, privateKey): KeyAgreement {
    assertUncompressedPoint(peerPublicKey);
    const p256Curve = p256();
    const secret = privateKey ?? p256Curve.utils.randomSecretKey();
    // isValidSecretKey refuses a scalar of any other length than 32 bytes, as well as 0 and ≥ n.
    if (!p256Curve.utils.isValidSecretKey(secret)) {
      throw new InvalidKeyError(BAD_SCALAR);
    }
    let peer: P256Point;
    try {
      peer = peers.get(peerPublicKey);
    } catch {
      throw new InvalidKeyError(NOT_ON_CURVE);
    }
    const scalar = p256Curve.Point.Fn.fromBytes(secret);
    // The compressed encoding is 0x02/0x03 || x: the shared secret is x (protocol §2).
    const shared = peer.multiply(scalar).toBytes(true);
    const publicKey = generator ? generator.multiply(scalar).toBytes(false) : p256Curve.getPublicKey(secret, false);
    return { publicKey, sharedSecret: shared.subarray(1) };
  },

  hkdf(ikm, salt, info, length) {
    assertHkdfLength(length);
    return hkdf(sha256, ikm, salt, info, length);
  },

  ...nobleAead,
};
