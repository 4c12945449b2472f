// extra_decrypt_response.json (§5): answers of many pieces laid end to end, several choices, tampering.
import { ALL_PLANES, clone, encrypt, randomText, rng, sessionMembers, textOfBytes, utf8Length } from './common.mjs';

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** A piece: a random text of 0–12 characters; `unpadded` true/false forces (UTF-8 length + 16) % 3 == 0 or not. */
export function randomPiece(r, s, unpadded) {
  for (;;) {
    const text = randomText(r, r.int(13));
    if (unpadded === undefined || unpadded === (utf8Length(text) % 3 === 2)) return { text, ct: encrypt(s, text) };
  }
}
const join = (pieces) => ({ text: pieces.map((p) => p.text).join(''), ct: pieces.map((p) => p.ct).join('') });

export const completion = (id, choices) => ({ id, object: 'chat.completion', created: 1732000000, model: 'doubao-test', choices,
  usage: { prompt_tokens: 11, completion_tokens: 22, total_tokens: 33 } });
const choice = (index, content, finish = 'stop', extra = {}) => ({ index, finish_reason: finish,
  message: content === undefined ? { role: 'assistant', ...extra } : { role: 'assistant', content, ...extra } });

/** Base64 character edits: flip a used bit (`^ 0x20`), or step to the next alphabet character. */
const edit = (s, at, ch) => s.slice(0, at) + ch + s.slice(at + 1);
export const flip = (s, at) => {
  if (s[at] === '=') throw new Error('flip on padding');
  return edit(s, at, B64[B64.indexOf(s[at]) ^ 0x20]);
};
export const nextChar = (s, at) => edit(s, at, B64[B64.indexOf(s[at]) + 1]);
export const insert = (s, at, ch) => s.slice(0, at) + ch + s.slice(at);
const remove = (s, at) => s.slice(0, at) + s.slice(at + 1);

/** Tampered variants of a content made of `pieces`; every one of them must fail to decrypt. */
function tamperings(r, s, pieces, label) {
  const ct = pieces.map((p) => p.ct).join('');
  const starts = pieces.map((_, i) => pieces.slice(0, i).reduce((n, p) => n + p.ct.length, 0));
  const ends = pieces.map((p, i) => starts[i] + p.ct.length);
  const last = pieces.length - 1, mid = pieces.length >> 1;
  const padAt = (i) => ends[i] - 1 - (pieces[i].ct.match(/=+$/)?.[0].length ?? 0); // last data character
  const other = { key: r.bytes(32), nonce: s.nonce };
  const swapPiece = (i, withCt) => ct.slice(0, starts[i]) + withCt + ct.slice(ends[i]);
  const safe = ct.search(/[+/]/);
  if (safe < 0) throw new Error('no + or / to turn into URL-safe base64');
  const out = [
    ['flipped character in the first piece', flip(ct, starts[0] + 2)],
    ['flipped character in the middle of a middle piece', flip(ct, starts[mid] + (pieces[mid].ct.length >> 1))],
    ['flipped character near the start of the last piece', flip(ct, starts[last] + 5)],
    ['flipped character in the tag region of a middle piece', flip(ct, ends[mid] - 8)],
    ['flipped character in the tag region of the last piece', flip(ct, ends[last] - 5)],
    ['flipped last data character of the last piece', flip(ct, padAt(last))],
    ['inserted character', insert(ct, starts[mid] + 10, 'A')],
    ['inserted character at the start', insert(ct, 0, 'Q')],
    ['deleted character', remove(ct, starts[mid] + 10)],
    ['deleted first character', ct.slice(1)],
    ['cut short by 1 character', ct.slice(0, -1)],
    ['cut short by 4 characters', ct.slice(0, -4)],
    ['cut short by 20 characters', ct.slice(0, -20)],
    ['appended non-base64 garbage', `${ct}!?`],
    ['appended valid base64 "AAAA"', `${ct}AAAA`],
    ['appended a fake 24-character piece', ct + r.bytes(18).toString('base64')],
    ['a piece under another key', swapPiece(mid, encrypt(other, pieces[mid].text))],
    ['a piece under another nonce', swapPiece(mid, encrypt({ key: s.key, nonce: r.bytes(12) }, pieces[mid].text))],
    ['plain text after the ciphertext', `${ct} and some plain text`],
    ['line break inside the base64', insert(ct, starts[mid] + 8, '\n')],
    ['space inside the base64', insert(ct, starts[mid] + 8, ' ')],
    ['URL-safe alphabet character', edit(ct, safe, ct[safe] === '+' ? '-' : '_')],
  ];
  for (const [i, p] of pieces.entries()) {
    const pad = p.ct.match(/=+$/)?.[0].length ?? 0;
    if (pad === 0 || out.some(([n]) => n.startsWith(`non-canonical "${'='.repeat(pad)}"`))) continue;
    // The character before the padding with an unused bit set: a lenient decoder gives the same bytes.
    out.push([`non-canonical "${'='.repeat(pad)}" ending (unused bits set) in piece ${i + 1}`, nextChar(ct, padAt(i))]);
    out.push([`padding "${'='.repeat(pad)}" of piece ${i + 1} removed`, ct.slice(0, ends[i] - pad) + ct.slice(ends[i])]);
  }
  if (pieces.length > 1) out.push(['deleted last character of an unpadded piece', remove(ct, ends[pieces.findIndex((p) => !p.ct.endsWith('='))] - 1)]);
  return out.map(([what, content]) => [`tampered ${label}: ${what}`, content]);
}

export function decryptResponseCases() {
  const r = rng('extra_decrypt_response');
  const cases = [];
  let serial = 0;
  const add = (name, s, choices, expected) => {
    const response = completion(`021extra${String(++serial).padStart(4, '0')}`, choices);
    const c = { name, kind: 'decrypt_response', ...sessionMembers(s), response };
    if (expected === 'error') c.expect_error = 'decryption_failed';
    else c.expect_response = completion(response.id, expected);
    cases.push(c);
  };
  const one = (name, s, pieces) => { const j = join(pieces); add(name, s, [choice(0, j.ct)], [choice(0, j.text)]); };

  let s = r.session();
  const runs = [[100, true], [3900], [1500, true], [4200], [300, true]]; // 10 000 pieces, unpadded runs of 100, 1 500, 300
  const big = runs.flatMap(([n, unpadded]) => Array.from({ length: n }, () => randomPiece(r, s, unpadded)));
  one('10 000 pieces end to end (mixed; unpadded runs of 100 at the start, 1 500 in the middle, 300 at the end)', s, big);
  s = r.session();
  one('2 000 unpadded pieces end to end', s, Array.from({ length: 2000 }, () => randomPiece(r, s, true)));
  s = r.session();
  one('1 000 padded pieces end to end', s, Array.from({ length: 1000 }, () => randomPiece(r, s, false)));
  s = r.session();
  one('300 minimum-size unpadded pieces (2-byte texts, 24 characters each)', s, Array.from({ length: 300 }, () => {
    const text = textOfBytes(r, 2);
    return { text, ct: encrypt(s, text) };
  }));
  s = r.session();
  const longText = textOfBytes(r, 75 * 1024);
  one('a single long ciphertext (~100 KiB of base64)', s, [{ text: longText, ct: encrypt(s, longText) }]);
  s = r.session();
  const mid = textOfBytes(r, 5000);
  one('a long unpadded piece between short unpadded pieces', s, [randomPiece(r, s, true), { text: mid, ct: encrypt(s, mid) }, randomPiece(r, s, true)]);
  s = r.session();
  one('50 pieces of empty text', s, Array.from({ length: 50 }, () => ({ text: '', ct: encrypt(s, '') })));
  s = r.session();
  one('a single piece of empty text', s, [{ text: '', ct: encrypt(s, '') }]);
  s = r.session();
  one('a byte order mark at the start of the content and of a later piece', s, ['\ufeffa', 'b', '\ufeffc'].map((t) => ({ text: t, ct: encrypt(s, t) })));
  s = r.session();
  one('pieces with all Unicode planes, NUL and controls', s, [...ALL_PLANES, '\u0000\u0001\u001f\u007f', ''].map((t) => ({ text: t, ct: encrypt(s, t) })));

  s = r.session();
  const ps = [1, 2, 3].map((n) => Array.from({ length: n * 3 }, () => randomPiece(r, s)));
  const enc = encrypt(s, 'a real ciphertext, but filtered');
  add('several choices, each of several pieces', s, ps.map((p, i) => choice(i, join(p).ct, i === 2 ? 'length' : 'stop')),
    ps.map((p, i) => choice(i, join(p).text, i === 2 ? 'length' : 'stop')));
  const plainChoices = [choice(0, 'blocked: plain text', 'content_filter'), choice(1, enc, 'content_filter'), choice(2, null),
    choice(3, ''), choice(4, undefined), choice(5, null, 'tool_calls', { tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"a":"北京"}' } }] }),
    choice(6, '', 'tool_calls', { tool_calls: [{ id: 'call_2', type: 'function', function: { name: 'g', arguments: '{}' } }] })];
  add('content_filter (plain or base64-looking), null, "", missing content and tool_calls choices are left as they are', s, plainChoices, clone(plainChoices));
  const t = randomText(r, 20);
  add('encrypted content beside tool_calls', s, [choice(0, encrypt(s, t), 'tool_calls', { tool_calls: [{ id: 'call_3', type: 'function', function: { name: 'h', arguments: '{"q":1}' } }] })],
    [choice(0, t, 'tool_calls', { tool_calls: [{ id: 'call_3', type: 'function', function: { name: 'h', arguments: '{"q":1}' } }] })]);

  // Tampering, on a content of six pieces ("==", none, "=", none, "==", none) and on single pieces.
  s = r.session();
  const multi = [30, 20, 22, 26, 33, 38].map((n) => textOfBytes(r, n)).map((text) => ({ text, ct: encrypt(s, text) }));
  const shuffled = [multi[2], multi[0], multi[2], multi[5]];
  one('whole pieces repeated and reordered still authenticate (same key and nonce, §7)', s, shuffled);
  for (const [name, content] of tamperings(r, s, multi, 'six pieces')) add(name, s, [choice(0, content)], 'error');
  for (const [n, label] of [[40, 'single "=" piece'], [39, 'single "==" piece'], [41, 'single unpadded piece']]) {
    const text = textOfBytes(r, n);
    for (const [name, content] of tamperings(r, s, [{ text, ct: encrypt(s, text) }], label)) add(name, s, [choice(0, content)], 'error');
  }
  add('tampered: second of two choices', s, [choice(0, multi[0].ct), choice(1, flip(multi[1].ct, 3))], 'error');
  add('tampered: plain text content', s, [choice(0, 'Hello, this is plain text.')], 'error');
  add('tampered: base64-alphabet plain text', s, [choice(0, 'ThisIsPlainTextMadeOfBase64Letters00')], 'error');
  add('tampered: whole content under another key', s, [choice(0, encrypt(r.session(), 'another key'))], 'error');
  add('tampered: shorter than a tag', s, [choice(0, multi[0].ct.slice(0, 20))], 'error');
  return cases;
}
