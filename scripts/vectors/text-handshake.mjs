// extra_encrypt_text.json (§3) and extra_handshake.json (§2), from node:crypto only.
import { Buffer } from 'node:buffer';
import { X509Certificate, createECDH, hkdfSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ALL_PLANES, CONTROLS, PLANES, SEQUENCES, encrypt, hex, rng, sessionMembers, textOfBytes } from './common.mjs';

export function encryptTextCases() {
  const r = rng('extra_encrypt_text');
  const cases = [];
  const add = (name, plaintext, session = r.session()) =>
    cases.push({ name, kind: 'encrypt_text', ...sessionMembers(session), plaintext, expect_ciphertext: encrypt(session, plaintext) });
  for (const n of [0, 1, 2, 3, 15, 16, 17, 31, 32, 33]) {
    add(`UTF-8 of exactly ${n} bytes, ASCII`, textOfBytes(r, n, true));
    if (n >= 2) add(`UTF-8 of exactly ${n} bytes, mixed widths`, textOfBytes(r, n));
  }
  add('UTF-8 of 3 bytes: one CJK character', '中');
  add('UTF-8 of 4 bytes: one emoji', '😀');
  add('64 KiB (65536 bytes of UTF-8), mixed ASCII/CJK/emoji', textOfBytes(r, 64 * 1024));
  add('256 KiB (262144 bytes of UTF-8), mixed ASCII/CJK/emoji', textOfBytes(r, 256 * 1024));
  for (const [plane, text] of Object.entries(PLANES)) add(`characters of ${plane}`, text);
  add('characters of every plane with assigned characters', ALL_PLANES);
  for (const [what, text] of Object.entries(SEQUENCES)) add(what, text);
  add('UTF-8 width boundaries U+007F U+0080 U+07FF U+0800 U+D7FF U+E000 U+FFFF U+10000 U+10FFFF',
    '\u007f\u0080\u07ff\u0800\ud7ff\ue000\uffff\u{10000}\u{10ffff}');
  add('noncharacters U+FDD0 U+FFFE U+FFFF U+1FFFE U+10FFFE', '\ufdd0\ufffe\uffff\u{1fffe}\u{10fffe}');
  add('NUL only', '\u0000');
  add('NUL, all C0 controls, DEL and C1 controls', CONTROLS);
  add('NUL between words', 'a\u0000b\u0000\u0000c');
  add('leading byte order mark U+FEFF (must not be dropped)', '\ufeffhello');
  add('byte order marks only', '\ufeff\ufeff');
  add('line and paragraph separators U+2028 U+2029', 'a\u2028b\u2029c');
  add('line endings CR, LF, CRLF', 'a\rb\nc\r\nd');
  add('whitespace only', ' \t\n ');
  add('JSON and HTML significant characters', '"\\/\b\f\n\r\t</script><!-- \'&amp; {"a":[1]}');
  add('looks like base64 itself', 'SGVsbG8sIHdvcmxkIQ==');
  add('all-zero key and nonce', 'zero key', { key: Buffer.alloc(32), nonce: Buffer.alloc(12) });
  add('all-ff key and nonce', 'ff key', { key: Buffer.alloc(32, 0xff), nonce: Buffer.alloc(12, 0xff) });
  return cases;
}

const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const scalarBytes = (k) => Buffer.from(k.toString(16).padStart(64, '0'), 'hex');

/** The certificate's P-256 key (from its JWK), notAfter and AICC ids, checked against certificate.json. */
function certificateInfo(certCase) {
  const x509 = new X509Certificate(certCase.certificate);
  const jwk = x509.publicKey.export({ format: 'jwk' });
  const [x, y] = [Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')];
  if (jwk.crv !== 'P-256' || x.length !== 32 || y.length !== 32) throw new Error('not a P-256 key');
  const notAfter = Date.parse(x509.validTo) / 1000;
  const dns = (x509.subjectAltName ?? '').split(', ').map((name) => name.replace(/^DNS:/, ''));
  const id = (i, prefix) => (dns[i]?.startsWith(prefix) ? dns[i].slice(prefix.length) : '');
  const info = { pem: certCase.certificate, publicKey: Buffer.concat([Buffer.from([4]), x, y]), notAfter, ringId: id(0, 'ring.'), keyId: id(1, 'key.') };
  const seen = { public_key: hex(info.publicKey), ring_id: info.ringId, key_id: info.keyId, not_after: notAfter };
  if (!Number.isInteger(notAfter) || JSON.stringify(seen) !== JSON.stringify(certCase.expect)) {
    throw new Error(`certificate "${certCase.name}" reads differently from certificate.json`);
  }
  return info;
}

/** §2: ECDH x coordinate, HKDF-SHA256 (zero salt, empty info, 44 bytes), token, X-Encrypt-Info. */
function handshake(cert, scalar, aicc) {
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(scalarBytes(scalar));
  const z = ecdh.computeSecret(cert.publicKey);
  const point = ecdh.getPublicKey();
  if (z.length !== 32 || point.length !== 65) throw new Error('unexpected ECDH output size');
  const okm = Buffer.from(hkdfSync('sha256', z, Buffer.alloc(32), Buffer.alloc(0), 44));
  const info = { ExpireTime: cert.notAfter };
  if (aicc) Object.assign(info, { Version: 'AICCv0.1', RingID: cert.ringId, KeyID: cert.keyId });
  return { z, point, expect: { session_token: point.toString('base64'), key: hex(okm.subarray(0, 32)), nonce: hex(okm.subarray(32, 44)), encrypt_info: info } };
}

export function handshakeCases(vectorsDir) {
  const r = rng('extra_handshake');
  const certCases = JSON.parse(readFileSync(`${vectorsDir}/certificate.json`, 'utf8')).cases.filter((c) => c.expect);
  const [plain, aicc] = certCases.map(certificateInfo);
  if (plain.ringId !== '' || aicc.ringId === '' || aicc.keyId === '') throw new Error('certificate.json changed?');
  const randomScalar = (leadingZeroBytes = 0) => {
    for (;;) {
      const bytes = r.bytes(32).fill(0, 0, leadingZeroBytes);
      const k = BigInt(`0x${hex(bytes)}`);
      if (k > 0n && k < N) return k; // a valid P-256 scalar: 1 <= k < n
    }
  };
  const search = (test) => {
    for (;;) {
      const k = randomScalar();
      if (test(k)) return k;
    }
  };
  const scalars = [
    ['scalar 1 (R = G)', 1n], ['scalar 2', 2n], ['scalar 3', 3n], ['scalar n-1 (R = -G)', N - 1n], ['scalar n-2', N - 2n],
    ['scalar 2^255', 2n ** 255n], ['scalar 2^248-1 (one leading zero byte)', 2n ** 248n - 1n],
    ['random scalar with 1 leading zero byte', randomScalar(1)], ['random scalar with 8 leading zero bytes', randomScalar(8)],
    ['random scalar with 31 leading zero bytes', randomScalar(31)],
    ['random scalar #1', randomScalar()], ['random scalar #2', randomScalar()], ['random scalar #3', randomScalar()],
    ['ephemeral public X starts with a zero byte', search((k) => handshake(plain, k, false).point[1] === 0)],
  ];
  const cases = [];
  const add = (label, cert, scalar, aiccMode) => cases.push({
    name: `${label} certificate, aicc=${aiccMode}, ${scalar[0]}`, kind: 'handshake', certificate: cert.pem,
    ephemeral_private_key: hex(scalarBytes(scalar[1])), aicc: aiccMode, expect: handshake(cert, scalar[1], aiccMode).expect,
  });
  const zeroZ = (cert) => ['shared secret Z starts with a zero byte', search((k) => handshake(cert, k, false).z[0] === 0)];
  for (const s of [...scalars, zeroZ(plain)]) add('plain', plain, s, false);
  const aiccZ = zeroZ(aicc);
  for (const s of [...scalars, aiccZ]) add('aicc', aicc, s, false);
  for (const s of [...scalars, aiccZ]) add('aicc', aicc, s, true);
  return cases;
}
