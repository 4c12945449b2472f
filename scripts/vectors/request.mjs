// extra_encrypt_request.json (§4): what of a chat completion request is encrypted, and what is refused.
import { Buffer } from 'node:buffer';
import { ALL_PLANES, CONTROLS, SEQUENCES, clone, encrypt, randomText, rng, sessionMembers } from './common.mjs';

/** The body as sent, by §4; throws on anything §4 refuses (those cases are written as expect_error). */
function sentBody(body, s) {
  const out = clone(body);
  for (const m of out.messages) {
    if (m.content === undefined || m.content === null) continue;
    if (typeof m.content === 'string') m.content = encrypt(s, m.content);
    else if (!Array.isArray(m.content)) throw new Error('refused content in an accepted case');
    else {
      for (const part of m.content) {
        const url = part.image_url?.url;
        if (part.type === 'text') part.text = encrypt(s, part.text);
        else if (part.type === 'image_url' && url.startsWith('data:')) part.image_url.url = encrypt(s, url);
        else if (!(part.type === 'image_url' && /^https?:\/\//.test(url)) && part.type !== 'video_url') throw new Error('refused part');
      }
    }
  }
  return out;
}

const text = (t, extra = {}) => ({ type: 'text', text: t, ...extra });
const image = (url, extra = {}) => ({ type: 'image_url', image_url: { url, ...extra } });
const video = (url) => ({ type: 'video_url', video_url: { url, fps: 1 } });
const user = (content, extra = {}) => ({ role: 'user', content, ...extra });
const call = (id, name, args) => ({ id, type: 'function', function: { name, arguments: JSON.stringify(args) } });

export function encryptRequestCases() {
  const r = rng('extra_encrypt_request');
  const cases = [];
  const accept = (name, request) => {
    const s = r.session();
    cases.push({ name, kind: 'encrypt_request', ...sessionMembers(s), request, expect_request: sentBody(request, s) });
  };
  const refuse = (name, offending) => cases.push({
    name: `refused: ${name}`, kind: 'encrypt_request', ...sessionMembers(r.session()),
    request: { model: 'ep-extra', messages: [{ role: 'system', content: 'You are helpful.' }, offending] },
    expect_error: 'unsupported_content',
  });

  // Refused content, parts and URLs: nothing may be sent, even after messages that were fine.
  for (const [what, content] of [['true', true], ['false', false], ['a number', 42], ['zero', 0], ['a float', 1.5],
    ['an object', { type: 'text', text: 'hi' }], ['an empty object', {}]]) refuse(`content is ${what}`, user(content));
  const parts = [
    ['input_audio part', { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } }],
    ['file part', { type: 'file', file: { filename: 'a.pdf', file_data: 'data:application/pdf;base64,JVBERi0=' } }],
    ['refusal part', { type: 'refusal', refusal: 'I cannot help with that.' }],
    ['unknown part type "foo"', { type: 'foo', foo: 'bar' }], ['part type ""', { type: '', text: 'hi' }],
    ['part type "TEXT" (types are case-sensitive)', { type: 'TEXT', text: 'hi' }],
    ['part without type', { text: 'hi' }], ['part type is a number', { type: 1, text: 'hi' }], ['part type is null', { type: null, text: 'hi' }],
    ['part is a string', 'hi'], ['part is null', null], ['part is a number', 7], ['part is true', true], ['part is an array', [text('hi')]],
    ['text is a number', { type: 'text', text: 5 }], ['text is missing', { type: 'text' }], ['text is null', { type: 'text', text: null }],
    ['text is an object', { type: 'text', text: { value: 'hi' } }], ['text is an array', { type: 'text', text: ['hi'] }],
    ['image_url is a string', { type: 'image_url', image_url: 'https://example.com/cat.png' }],
    ['image_url is null', { type: 'image_url', image_url: null }], ['image_url is missing', { type: 'image_url' }],
    ['image_url is an array', { type: 'image_url', image_url: [{ url: 'https://example.com/cat.png' }] }],
    ['image url is missing', { type: 'image_url', image_url: { detail: 'low' } }],
    ['image url is a number', image(42)], ['image url is null', image(null)], ['image url is an object', image({ href: 'https://example.com' })],
  ];
  for (const url of ['ftp://example.com/cat.png', 'file:///etc/passwd', 'blob:https://example.com/0f1e2d3c', 'javascript:alert(1)',
    'mailto:a@example.com', 'httpx://example.com/cat.png', 'https-proxy://example.com/cat.png', 'dataurl:image/png;base64,AAAA',
    '//example.com/cat.png', '/cat.png', 'cat.png', '']) parts.push([`image url ${JSON.stringify(url)}`, image(url)]);
  for (const [what, part] of parts) refuse(what, user([text('fine so far'), part]));
  refuse('unsupported part in a later message', { role: 'assistant', content: [{ type: 'refusal', refusal: 'no' }] });

  // Accepted.
  accept('string content in every role', { model: 'ep-extra', messages: [
    { role: 'system', content: 'system text' }, { role: 'developer', content: 'developer text' }, user('user text', { name: 'alice' }),
    { role: 'assistant', content: 'assistant text' }, { role: 'tool', tool_call_id: 'call_0', content: '{"ok":true}' }] });
  accept('empty strings are encrypted', { model: 'm', messages: [user(''), user([text('')]), { role: 'assistant', content: '' }] });
  accept('null content is left as it is', { model: 'm', messages: [user('hi'), { role: 'assistant', content: null }, user(null)] });
  accept('missing content is left as it is', { model: 'm', messages: [user('hi'), { role: 'assistant' },
    { role: 'assistant', tool_calls: [call('call_1', 'f', {})] }, { role: 'tool', tool_call_id: 'call_1', content: 'done' }] });
  accept('empty parts array is left as it is', { model: 'm', messages: [user([])] });
  accept('text parts, extra part members untouched', { model: 'm', messages: [user([text('one'), text(''),
    text('three 三 😀', { cache_control: { type: 'ephemeral' } }), text(randomText(r, 40))])] });
  accept('data: image URL is encrypted whole, detail untouched', { model: 'vision', messages: [user([text('what is this?'),
    image(`data:image/png;base64,${r.bytes(300).toString('base64')}`, { detail: 'high' }), image('data:image/jpeg;base64,/9j/4AAQ')])] });
  accept('http and https image URLs are left as they are', { model: 'vision', messages: [user([
    image('http://example.com/a.png'), image('https://example.com/b.png?x=1&y=2#f', { detail: 'low' }), text('compare')])] });
  accept('video_url is left as it is', { model: 'vision', messages: [user([video('https://example.com/clip.mp4'),
    video('http://example.com/clip.mp4'), text('describe')])] });
  accept('every accepted part type in one message', { model: 'vision', messages: [user([text('a'), image('data:image/gif;base64,R0lGODlhAQABAAAAACw='),
    image('https://example.com/c.png'), video('https://example.com/v.mp4'), text('b')])] });
  accept('assistant tool_calls with null content, tool messages', {
    model: 'fc', tool_choice: 'auto',
    tools: [{ type: 'function', function: { name: 'get_weather', description: 'content: never encrypted', parameters: {
      type: 'object', properties: { location: { type: 'string', description: 'city' } }, required: ['location'] } } }],
    messages: [user('Weather in 北京 and 上海?'), { role: 'assistant', content: null, tool_calls: [
      call('call_a', 'get_weather', { location: '北京' }), call('call_b', 'get_weather', { location: '上海' })] },
    { role: 'tool', tool_call_id: 'call_a', content: '{"temp":21}' }, { role: 'tool', tool_call_id: 'call_b', content: [text('{"temp":25}')] },
    { role: 'assistant', content: 'It is 21°C and 25°C.' }] });
  const many = Array.from({ length: 200 }, (_, i) => {
    const role = i === 0 ? 'system' : i % 2 ? 'user' : 'assistant';
    return { role, content: i % 17 === 5 ? [text(randomText(r, r.int(20))), text(randomText(r, 3))] : randomText(r, r.int(30)) };
  });
  accept('200 messages', { model: 'm', messages: many });
  const png = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), r.bytes(225 * 1024 - 8)]);
  accept('large base64 data: URL (300 KiB)', { model: 'vision', messages: [user([text('large image'), image(`data:image/png;base64,${png.toString('base64')}`)])] });
  accept('all Unicode planes, sequences, controls and BOM', { model: 'm', messages: [user(ALL_PLANES), user([text(ALL_PLANES), ...Object.values(SEQUENCES).map((t) => text(t))]),
    { role: 'assistant', content: CONTROLS }, user('\ufeffstarts with a BOM'), user('\u0000')] });
  accept('everything else in the body is untouched', {
    model: 'ep-20240601-abcd', stream: true, stream_options: { include_usage: true }, temperature: 0.7, top_p: 0.9, max_tokens: 1024,
    n: 1, seed: 42, stop: ['\n\n', 'END'], frequency_penalty: -0.5, presence_penalty: 0, logprobs: true, top_logprobs: 2, user: 'u-1',
    logit_bias: { 1234: -100 }, thinking: { type: 'disabled' }, parallel_tool_calls: false,
    response_format: { type: 'json_schema', json_schema: { name: 'answer', strict: true, schema: { type: 'object', properties: { content: { type: 'string' } } } } },
    metadata: { messages: [{ role: 'user', content: 'nested, not a message: left as it is' }], content: 'left' },
    x_unknown: { content: 'left', text: 'left', image_url: { url: 'data:image/png;base64,AAAA' }, list: [1, 'two', null, true, { a: [] }] },
    messages: [user('the only encrypted text')],
  });
  return cases;
}
