// extra_decrypt_stream.json (§5, streamed): raw event streams and the events they must decrypt to.
import { ALL_PLANES, CONTROLS, clone, encrypt, randomText, rng, sessionMembers, textOfBytes } from './common.mjs';
import { flip, insert, nextChar, randomPiece } from './response.mjs';

const chunk = (choices, extra = {}) => ({ id: '021stream', object: 'chat.completion.chunk', created: 1732000000, model: 'doubao-test', choices, ...extra });
const ch = (index, delta, finish = null) => ({ index, delta, finish_reason: finish });
const content = (text, extra = {}) => chunk([ch(0, { content: text, ...extra })]);
const usage = () => chunk([], { usage: { prompt_tokens: 5, completion_tokens: 8, total_tokens: 13 } });
const toolCall = (index, id, name, args) => ({ index, ...(id ? { id, type: 'function' } : {}), function: { ...(name ? { name } : {}), arguments: args } });

/** The chunk as the service sends it: each non-empty delta.content not under content_filter encrypted. */
function encryptChunk(s, plain) {
  const out = clone(plain);
  for (const c of out.choices) {
    if (c.finish_reason !== 'content_filter' && typeof c.delta?.content === 'string' && c.delta.content !== '') c.delta.content = encrypt(s, c.delta.content);
  }
  return out;
}

/**
 * An event: its `data` (a chunk, encrypted here, or "[DONE]"), optional `fields` lines before the data
 * (event:, id:, retry:, comments), `multiline` to spread the JSON over several data: lines, `nospace`
 * for "data:{…}", and `mutate` to tamper with the encrypted chunk.
 */
function event(s, data, { fields = [], multiline = false, nospace = false, mutate } = {}) {
  let sent = data === '[DONE]' ? data : encryptChunk(s, data);
  if (mutate) sent = mutate(clone(sent));
  const text = data === '[DONE]' ? data : JSON.stringify(sent, null, multiline ? 2 : undefined);
  return { lines: [...fields, ...text.split('\n').map((l) => `data:${nospace ? '' : ' '}${l}`)], expect: data };
}
const comment = (text) => ({ lines: [`:${text}`] });

/** Items to raw text: each block's lines end with `eol` (one per block when an array), then a blank line. */
function sse(items, eol) {
  return items.map((item, i) => {
    const e = Array.isArray(eol) ? eol[i % eol.length] : eol;
    return item.lines.map((l) => l + e).join('') + e;
  }).join('');
}

export function decryptStreamCases() {
  const r = rng('extra_decrypt_stream');
  const cases = [];
  const add = (name, s, items, eol = '\n', error = false) => cases.push({
    name, kind: 'decrypt_stream', ...sessionMembers(s), sse: sse(items, eol),
    ...(error ? { expect_error: error === true ? 'decryption_failed' : error } : { expect_events: items.filter((i) => 'expect' in i).map((i) => i.expect) }),
  });
  const texts = (n) => Array.from({ length: n }, () => randomText(r, 1 + r.int(12)));
  const basic = (s, n = 5) => [event(s, chunk([ch(0, { role: 'assistant' })])), ...texts(n).map((t) => event(s, content(t))),
    event(s, chunk([ch(0, {}, 'stop')])), event(s, usage()), event(s, '[DONE]')];

  let s = r.session();
  add('LF: role-only first chunk, content, finish, usage chunk (empty choices), [DONE]', s, basic(s, 8));
  s = r.session();
  const crlf = basic(s, 4);
  crlf.splice(0, 0, comment(' keep-alive'));
  crlf.splice(3, 0, comment(''), comment('comment: with a colon'));
  crlf[5].lines.unshift(': a comment inside an event');
  add('CRLF line endings and comments', s, [...crlf, comment(' bye')], '\r\n');
  s = r.session();
  add('CR line endings (the stream ends in "\\r\\r")', s, basic(s, 4), '\r');
  s = r.session();
  add('mixed LF, CRLF and CR line endings', s, [comment(' hi'), ...basic(s, 6)], ['\r\n', '\r', '\n']);
  s = r.session();
  add('event:, id:, retry: and unknown fields', s, [
    { lines: ['retry: 3000'] },
    event(s, content('first', { role: 'assistant' }), { fields: ['event: message', 'id: 1'] }),
    event(s, content(randomText(r, 9)), { fields: ['id: 2', 'retry: 5000', 'foo: ignored field'] }),
    event(s, content(randomText(r, 9)), { fields: ['event: completion', 'id'] }),
    { lines: ['id: 3'] },
    event(s, content(randomText(r, 9)), { fields: ['event:message', 'id:4'] }),
    event(s, '[DONE]', { fields: ['event: message', 'id: 5'] }),
  ]);
  s = r.session();
  add('multi-line data and data: without a space', s, [event(s, content('multi-line', { role: 'assistant' }), { multiline: true }),
    event(s, content(randomText(r, 10)), { nospace: true }), event(s, chunk([ch(0, { content: randomText(r, 6) }), ch(1, { content: 'b' })]), { multiline: true, nospace: true }),
    event(s, usage(), { multiline: true }), event(s, '[DONE]', { nospace: true })]);
  s = r.session();
  add('content_filter chunks are left as they are (plain, and base64-looking)', s, [event(s, content('safe', { role: 'assistant' })),
    event(s, chunk([ch(0, { content: 'filtered text' }, 'content_filter')])),
    event(s, chunk([ch(1, { content: encrypt(s, 'looks encrypted') }, 'content_filter')])), event(s, '[DONE]')]);
  s = r.session();
  add('empty content "" is left as it is', s, [event(s, content('', { role: 'assistant' })), event(s, content('x')), event(s, content('')),
    event(s, chunk([ch(0, { content: '' }, 'stop')])), event(s, '[DONE]')]);
  s = r.session();
  add('several choices per chunk', s, [event(s, chunk([ch(0, { role: 'assistant', content: 'zero' }), ch(1, { role: 'assistant', content: 'one' })])),
    event(s, chunk([ch(0, { content: randomText(r, 8) }), ch(1, { content: randomText(r, 5) }), ch(2, { content: '' })])),
    event(s, chunk([ch(0, { content: 'blocked' }, 'content_filter'), ch(1, { content: randomText(r, 7) })])),
    event(s, chunk([ch(0, { content: null }), ch(1, {}, 'stop')])), event(s, usage()), event(s, '[DONE]')]);
  s = r.session();
  add('tool_calls deltas', s, [event(s, chunk([ch(0, { role: 'assistant', content: null, tool_calls: [toolCall(0, 'call_1', 'get_weather', '')] })])),
    ...['{"loc', 'ation":', '"北京"}'].map((a) => event(s, chunk([ch(0, { tool_calls: [toolCall(0, null, null, a)] })]))),
    event(s, chunk([ch(0, { content: 'also text', tool_calls: [toolCall(1, 'call_2', 'f', '{}')] })])),
    event(s, chunk([ch(0, {}, 'tool_calls')])), event(s, usage()), event(s, '[DONE]')]);
  s = r.session();
  add('400 chunks of short texts, padded and unpadded', s, [...Array.from({ length: 400 }, () => event(s, content(randomPiece(r, s).text))), event(s, '[DONE]')]);
  s = r.session();
  add('all Unicode planes, BOM, NUL and controls in chunks', s, [...[...ALL_PLANES, '\ufeffBOM', '\u0000', CONTROLS, '\u2028\u2029'].map((t) => event(s, content(t))),
    event(s, content(textOfBytes(r, 20000))), event(s, '[DONE]')]);

  // Tampering: a stream of six content chunks ("==", "=", none, none, none, "=" endings), one of them altered.
  s = r.session();
  const sizes = [12, 10, 20, 11, 14, 25];
  const plain = sizes.map((n) => content(textOfBytes(r, n)));
  const tamper = (name, at, change, eol = '\n', opts = {}) => add(`tampered: ${name}`, s, [...plain.map((p, i) =>
    event(s, p, i === at ? { ...opts, mutate: (c) => {
      const before = c.choices[0].delta.content;
      c.choices[0].delta.content = change(before);
      if (c.choices[0].delta.content === before) throw new Error(`tampering "${name}" changed nothing`);
      return c;
    } } : {})), event(s, '[DONE]')], eol, true);
  const last = sizes.length - 1;
  tamper('flipped character in the first chunk', 0, (c) => flip(c, 1));
  tamper('flipped character in a middle chunk', 2, (c) => flip(c, 9));
  tamper('flipped character in the last chunk', last, (c) => flip(c, 4));
  tamper('flipped character in the tag region', 3, (c) => flip(c, c.length - 3));
  tamper('non-canonical "==" ending (unused bits set)', 0, (c) => nextChar(c, c.length - 3));
  tamper('non-canonical "=" ending (unused bits set)', 1, (c) => nextChar(c, c.length - 2));
  tamper('padding removed', last, (c) => c.replace(/=+$/, ''));
  tamper('inserted character', 2, (c) => insert(c, 7, 'A'));
  tamper('deleted character', 2, (c) => c.slice(0, 7) + c.slice(8));
  for (const n of [1, 4, 20]) tamper(`cut short by ${n}`, 3, (c) => c.slice(0, -n));
  tamper('appended garbage', 4, (c) => `${c}!!`);
  tamper('appended valid base64 "AAAA"', 4, (c) => `${c}AAAA`);
  tamper('line break inside the base64', 2, (c) => insert(c, 8, '\n'));
  tamper('URL-safe alphabet', 2, (c) => c.replace('+', '-').replace('/', '_'));
  tamper('ciphertext under another key', 2, () => encrypt(r.session(), 'other key'));
  tamper('plain text content', 2, () => 'plain text');
  tamper('base64-alphabet plain text', 2, () => 'PlainTextInBase64Letters');
  tamper('in a CRLF stream', 2, (c) => flip(c, 5), '\r\n');
  tamper('in a CR stream', 2, (c) => flip(c, 5), '\r');
  tamper('in multi-line data', 2, (c) => flip(c, 5), '\n', { multiline: true });
  add('tampered: second choice of a chunk', s, [event(s, chunk([ch(0, { content: 'fine' }), ch(1, { content: 'bad' })]),
    { mutate: (c) => ((c.choices[1].delta.content = flip(c.choices[1].delta.content, 2)), c) }), event(s, '[DONE]')], '\n', true);
  add('tampered: after another choice\'s content_filter chunk', s, [event(s, chunk([ch(1, { content: 'blocked' }, 'content_filter')])),
    event(s, content('x'), { mutate: (c) => ((c.choices[0].delta.content = flip(c.choices[0].delta.content, 0)), c) }), event(s, '[DONE]')], '\n', true);
  // Plain content_filter text is the last content of its choice (§5): content after it is slipped in.
  add('content after its choice\'s content_filter chunk', s, [event(s, chunk([ch(0, { content: 'blocked' }, 'content_filter')])),
    event(s, content('x')), event(s, '[DONE]')], '\n', 'stream_error');
  return cases;
}
