// Shared helpers of scripts/generate-vectors.mjs: a seeded PRNG, text makers, AES-256-GCM as the
// protocol uses it (§3), and the file writer. Only node:crypto, node:fs and node:buffer; nothing
// from the project's src/ or dist/.
import { Buffer } from 'node:buffer';
import { createCipheriv, createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';

/** sfc32 seeded from SHA-256(label): every file has its own reproducible stream. */
export function rng(label) {
  const s = createHash('sha256').update(label).digest();
  let a = s.readUInt32LE(0), b = s.readUInt32LE(4), c = s.readUInt32LE(8), d = s.readUInt32LE(12);
  const u32 = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 16; i++) u32();
  const r = {
    u32,
    int: (n) => u32() % n,
    pick: (list) => list[u32() % list.length],
    chance: (p) => u32() / 2 ** 32 < p,
    bytes: (n) => Buffer.from(Array.from({ length: n }, () => u32() & 0xff)),
    session: () => ({ key: r.bytes(32), nonce: r.bytes(12) }),
  };
  return r;
}

// Characters by UTF-8 width: ASCII (JSON-significant ones included), 2-byte, 3-byte, 4-byte.
const POOLS = [
  [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789     .,;:!?\'"\\/<>{}[]&+=-_\n\t'],
  [...'éñüßçøåжщлдλπΩאשعربçāőɐʃ\u0300\u0301\u0308\u00a0\u0085'],
  [...'的一是中文字花菜见常有蔬植物科十又椰些哪称한국어ひらがなカタカナ€…—“”、。\u200d\ufe0f\u2028\ufffd'],
  [...'😀🚀💻🎉🦄👩🙂🇨🇳𝔸𝕏𝜋𠀀𪚥𰀀𐌰\u{e0067}\u{f0000}\u{10fffd}'],
];
const WEIGHTS = [55, 10, 25, 10];

function width(r, max) {
  for (;;) {
    let x = r.int(100), w = 0;
    while (x >= WEIGHTS[w]) x -= WEIGHTS[w++];
    if (w + 1 <= max) return w + 1;
  }
}

/** A random text of `n` code points, mixed widths. */
export function randomText(r, n) {
  let s = '';
  for (let i = 0; i < n; i++) s += r.pick(POOLS[width(r, 4) - 1]);
  return s;
}

/** A random text whose UTF-8 is exactly `n` bytes; `ascii` keeps it to 1-byte characters. */
export function textOfBytes(r, n, ascii = false) {
  const parts = [];
  for (let left = n; left > 0; ) {
    const w = ascii ? 1 : width(r, Math.min(4, left));
    parts.push(r.pick(POOLS[w - 1]));
    left -= w;
  }
  const s = parts.join('');
  if (utf8Length(s) !== n) throw new Error(`textOfBytes: got ${utf8Length(s)} bytes, wanted ${n}`);
  return s;
}

export const utf8Length = (s) => Buffer.byteLength(s, 'utf8');

/** §3: base64(AES-256-GCM(key, nonce, UTF-8(text)) || tag). */
export function encrypt({ key, nonce }, text) {
  if (typeof text !== 'string' || !text.isWellFormed()) throw new Error('not a well-formed string');
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  return Buffer.concat([cipher.update(text, 'utf8'), cipher.final(), cipher.getAuthTag()]).toString('base64');
}

export const hex = (bytes) => Buffer.from(bytes).toString('hex');
export const clone = (value) => JSON.parse(JSON.stringify(value));
export const sessionMembers = (s) => ({ key: hex(s.key), nonce: hex(s.nonce) });

/** Pretty 2-space JSON with a trailing newline. */
export function writeVectors(path, description, cases) {
  const names = new Set();
  for (const c of cases) {
    if (names.has(c.name)) throw new Error(`${path}: duplicate case name "${c.name}"`);
    names.add(c.name);
  }
  const text = `${JSON.stringify({ description, cases }, null, 2)}\n`;
  writeFileSync(path, text);
  return { path, cases: cases.length, bytes: Buffer.byteLength(text) };
}

/** Texts from every Unicode plane that has assigned characters (well-formed, no lone surrogates). */
export const PLANES = {
  'BMP (plane 0)': 'Aé中한ℝ€ꙮ\ufb01\ufffd',
  'SMP (plane 1) emoji and math': '😀🚀𝔸𝕏𝜋𐀀𐌰𓀀🀄\u{1f9ff}',
  'SIP (plane 2) CJK extension B': '𠀀𠀁𪚥𫝀\u{2fa1d}',
  'TIP (plane 3) CJK extension G/H': '\u{30000}\u{3134a}\u{31350}',
  'SSP (plane 14) tags and variation selectors': '\u{e0001}\u{e0020}\u{e007f}\u{e0100}\u{e01ef}',
  'PUA-A (plane 15)': '\u{f0000}\u{f8888}\u{ffffd}\u{fffff}',
  'PUA-B (plane 16)': '\u{100000}\u{10fffd}\u{10ffff}',
};
export const ALL_PLANES = Object.values(PLANES).join('');

/** Combining, ZWJ and other multi-code-point sequences. */
export const SEQUENCES = {
  'combining marks': 'e\u0301 a\u0308\u0304 Z\u0324\u0354\u0367\u0311\u0313 \u1100\u1161\u11a8 क्षि ก่',
  'ZWJ sequences': '👨\u200d👩\u200d👧\u200d👦 🏳\ufe0f\u200d🌈 👩🏽\u200d💻 🧑\u200d🤝\u200d🧑',
  'modifiers, flags, keycaps, tag sequences': '👍🏽 🇨🇳🇺🇸 1\ufe0f\u20e3 🏴\u{e0067}\u{e0062}\u{e0073}\u{e0063}\u{e0074}\u{e007f}',
  'bidi and invisible controls': '\u202eabc\u202c \u200f\u0645\u0631\u062d\u0628\u0627\u200e \u2066x\u2069 \u00ad\u200b\u2060',
};

/** NUL, every C0 control, DEL and the C1 controls. */
export const CONTROLS = String.fromCodePoint(...Array.from({ length: 32 }, (_, i) => i), 0x7f, ...Array.from({ length: 32 }, (_, i) => 0x80 + i));
