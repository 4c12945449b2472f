/**
 * encryptChatRequest's refusals read as a user reads them: the error's code, the field path and
 * the hint that says what to do are part of the interface (issue 16). Each case here fails if the
 * check that produces it is removed or weakened.
 */
import { describe, expect, it } from 'vitest';
import { UnsupportedContentError } from '../../src/errors.js';
import { encryptChatRequest } from '../../src/protocol/request.js';
import { sessionFromKey } from '../../src/protocol/create-session.js';
import { serverDecrypt } from '../helpers/server-crypto.js';

const KEY = new Uint8Array(32).map((_, i) => i * 5 + 3);
const NONCE = new Uint8Array(12).map((_, i) => i + 9);
const session = sessionFromKey(KEY, NONCE);
const quiet = { onWarning: () => {} };

function refusal(body: unknown): UnsupportedContentError {
  let error: unknown;
  try {
    encryptChatRequest(body, session, quiet);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(UnsupportedContentError);
  expect(error).toMatchObject({ code: 'ERR_ARK_E2EE_UNSUPPORTED_CONTENT' });
  return error as UnsupportedContentError;
}

const withPart = (part: unknown): unknown => ({ model: 'm', messages: [{ role: 'system', content: 'x' }, { role: 'user', content: [{ type: 'text', text: 'a' }, part] }] });

describe('image_url parts', () => {
  it.each([
    ['a number', 7],
    ['an array holding a data: URL', ['data:,secret']],
    ['an array holding an https URL', ['https://x.test/a.png']],
    ['an object', { href: 'data:,secret' }],
    ['null', null],
  ])('a url that is %s is refused as "without a string url", at its place', (_name, url) => {
    const error = refusal(withPart({ type: 'image_url', image_url: { url } }));
    expect(error).toMatchObject({ messageIndex: 1, partIndex: 1 });
    expect(error.message).toBe(
      'messages[1].content[1] is an image_url part without a string url, which the encryption protocol cannot carry; ' +
        'nothing was sent. Give image_url as { "url": "data:…" }.',
    );
  });

  it('image_url given as a string is refused the same way', () => {
    expect(refusal(withPart({ type: 'image_url', image_url: 'data:,secret' })).message).toContain('without a string url');
  });

  it.each([
    ['x/http://example.com/a.png', ''],
    ['x/data:,secret', ''],
    ['/https://example.com/a.png', ''],
    [' data:,secret', ''],
    ['ftp://example.com/a.png', 'ftp'],
    ['9http://example.com/a.png', ''],
    ['data', ''],
  ])('%j: the scheme is only what starts the URL, so it is refused (scheme %j)', (url, scheme) => {
    const error = refusal(withPart({ type: 'image_url', image_url: { url } }));
    expect(error).toMatchObject({ messageIndex: 1, partIndex: 1 });
    expect(error.message).toContain(`messages[1].content[1] is an image URL with scheme "${scheme}"`);
    expect(error.message).toContain('Send the image as a base64 data: URL (encrypted) or an http(s) URL (sent as it is).');
  });

  it.each(['data:image/png;base64,AAAA', 'DATA:,x', 'Data:,x'])('%j is encrypted, in any letter case', (url) => {
    const out = encryptChatRequest(withPart({ type: 'image_url', image_url: { url, detail: 'low' } }), session, quiet) as {
      messages: [unknown, { content: [unknown, { image_url: { url: string; detail: string } }] }];
    };
    const image = out.messages[1].content[1].image_url;
    expect(image.detail).toBe('low');
    expect(image.url).not.toBe(url);
    expect(serverDecrypt(KEY, NONCE, image.url)).toBe(url);
  });

  it.each([['http://x.test/a.png', 'http'], ['HTTPS://x.test/a.png', 'https'], ['a+b-c.d:x', undefined]])('%j: only http(s) goes as it is, with a warning naming the place', (url, scheme) => {
    const warnings: string[] = [];
    const body = withPart({ type: 'image_url', image_url: { url } });
    if (scheme === undefined) {
      expect(refusal(body).message).toContain('with scheme "a+b-c.d"');
      return;
    }
    const out = encryptChatRequest(body, session, { onWarning: (m) => warnings.push(m) }) as { messages: [unknown, { content: unknown[] }] };
    expect(out.messages[1].content[1]).toEqual({ type: 'image_url', image_url: { url } });
    expect(warnings).toEqual([
      `messages[1].content[1] is an ${scheme} image URL: it is sent unencrypted because the service fetches it itself; ` +
        'send the image as a base64 data: URL to have it encrypted',
    ]);
  });
});

describe('messages, parts and the body', () => {
  it('a message content that is neither text nor parts names the message', () => {
    const error = refusal({ messages: [{ role: 'user', content: 'a' }, { role: 'user', content: { text: 'x' } }] });
    expect(error).toMatchObject({ messageIndex: 1, partIndex: undefined });
    expect(error.message).toBe(
      'messages[1].content is a object, which the encryption protocol cannot carry; nothing was sent. ' +
        'Give content as a string or an array of content parts.',
    );
  });

  it('a message that is not an object', () => {
    const error = refusal({ messages: ['hello'] });
    expect(error.message).toContain('messages[0].content belongs to a message that is a string, not an object');
    expect(error.message).toContain('Give each message as { "role": "…", "content": … }.');
  });

  it('a text part whose text is not a string', () => {
    const error = refusal(withPart({ type: 'text', text: 5 }));
    expect(error.message).toContain('messages[1].content[1] is a text part whose text is number');
    expect(error.message).toContain('Give text as a string.');
  });

  it('a part of another type names the type and what is allowed', () => {
    const error = refusal(withPart({ type: 'input_audio', input_audio: {} }));
    expect(error.message).toContain('messages[1].content[1] is a part of type "input_audio"');
    expect(error.message).toContain('Only text, image_url and video_url parts can be sent with encryption on.');
    expect(refusal(withPart({ kind: 'text' })).message).toContain('is a part of type undefined');
  });

  it('a lone surrogate names its place', () => {
    const error = refusal({ messages: [{ role: 'user', content: 'a\ud800' }] });
    expect(error.message).toContain('messages[0].content holds a lone UTF-16 surrogate');
    expect(error.message).toContain('Fix the string so it is valid Unicode.');
  });

  it('a non-text part that also carries text is refused', () => {
    const error = refusal(withPart({ type: 'video_url', video_url: { url: 'https://v' }, text: 'secret' }));
    expect(error.message).toContain('messages[1].content[1] is a "video_url" part that also carries "text"');
  });

  it('no messages array, or a body that is not an object', () => {
    for (const body of [{ model: 'm' }, { messages: 'x' }, 'text', null, [1]]) {
      const error = refusal(body);
      expect(error.messageIndex).toBe(-1);
      expect(error.message).toBe('a chat completion request needs a "messages" array; nothing was sent');
    }
  });

  it('null and absent contents go as they are; reasoning_content is left out, with a warning', () => {
    const warnings: string[] = [];
    const out = encryptChatRequest(
      { messages: [{ role: 'assistant', content: null, tool_calls: [] }, { role: 'assistant' }, { role: 'assistant', content: 'c', reasoning_content: 'thought' }, { role: 'user', content: 'd', reasoning_content: null }] },
      session,
      { onWarning: (m) => warnings.push(m) },
    ) as { messages: Record<string, unknown>[] };
    expect(out.messages[0]).toEqual({ role: 'assistant', content: null, tool_calls: [] });
    expect(out.messages[1]).toEqual({ role: 'assistant' });
    expect(out.messages[2]).not.toHaveProperty('reasoning_content');
    expect(serverDecrypt(KEY, NONCE, out.messages[2]!.content as string)).toBe('c');
    expect(out.messages[3]).toHaveProperty('reasoning_content', null);
    expect(warnings).toEqual([expect.stringContaining('messages[2] carries reasoning_content, which the encryption protocol does not encrypt')]);
  });
});

describe('the words of the remaining refusals and warnings', () => {
  it('a part that is not an object names its JSON type, null included', () => {
    for (const [part, name] of [[null, 'null'], [[1], 'array'], ['x', 'string'], [3, 'number']] as const) {
      const error = refusal(withPart(part));
      expect(error).toMatchObject({ messageIndex: 1, partIndex: 1 });
      expect(error.message).toBe(
        `messages[1].content[1] is a ${name}, not a content part object, which the encryption protocol cannot carry; ` +
          'nothing was sent. Use { "type": "text", "text": "…" }.',
      );
    }
    expect(refusal({ messages: [null] }).message).toContain('messages[0].content belongs to a message that is a null, not an object');
  });

  it.each([
    ['Type', 'type'],
    ['TEXT', 'text'],
    ['Image_URL', 'image_url'],
    ['video_URL', 'video_url'],
  ])('a part member %j is refused as a lookalike of %j', (member, name) => {
    const error = refusal(withPart({ type: 'text', text: 'a', [member]: 'x' }));
    expect(error).toMatchObject({ messageIndex: 1, partIndex: 1 });
    expect(error.message).toBe(
      `messages[1].content[1] has a member "${member}" that a server may read as "${name}", which the encryption protocol cannot carry; ` +
        'nothing was sent. Spell member names in lower case.',
    );
  });

  it('a non-text part with a text member says where the text should go', () => {
    expect(refusal(withPart({ type: 'image_url', image_url: { url: 'https://x.test/a.png' }, text: 's' })).message).toBe(
      'messages[1].content[1] is a "image_url" part that also carries "text", which the encryption protocol cannot carry; ' +
        'nothing was sent. Put the text in a part of its own.',
    );
  });

  it('an image_url member spelled like url is refused with the spelling to use', () => {
    expect(refusal(withPart({ type: 'image_url', image_url: { url: 'data:,a', URL: 'data:,secret' } })).message).toBe(
      'messages[1].content[1] has an image_url member "URL" that a server may read as "url", which the encryption protocol cannot carry; ' +
        'nothing was sent. Spell it "url".',
    );
  });

  it('a message member spelled like content is refused', () => {
    const error = refusal({ messages: [{ role: 'user', content: 'a' }, { role: 'user', content: 'b', Content: 'secret' }] });
    expect(error).toMatchObject({ messageIndex: 1, partIndex: undefined });
    expect(error.message).toBe(
      'messages[1].content has a sibling member "Content" that a server may read as "content", which the encryption protocol cannot carry; ' +
        'nothing was sent. Spell member names in lower case.',
    );
  });

  it('a body member spelled like messages is refused', () => {
    const error = refusal({ model: 'm', messages: [], Messages: [{ role: 'user', content: 'secret' }] });
    expect(error.messageIndex).toBe(-1);
    expect(error.message).toBe(
      'the request body has a member "Messages" beside "messages", which a server may read as "messages" and which would go in plain text; nothing was sent',
    );
  });

  it('a video given as a data: URL (leading spaces allowed) is warned about, in full; other videos are not', () => {
    const warnings: string[] = [];
    const urls = ['data:video/mp4;base64,AA', '  DATA:video/mp4;base64,AA', 'https://x.test/data:v.mp4', 'xdata:,a', 'https://x.test/v.mp4'];
    const body = { messages: [{ role: 'user', content: urls.map((url) => ({ type: 'video_url', video_url: { url } })) }] };
    const out = encryptChatRequest(body, session, { onWarning: (m) => warnings.push(m) }) as unknown as { messages: [{ content: unknown[] }] };
    expect(out.messages[0].content).toEqual(body.messages[0]!.content);
    const warning = (i: number): string =>
      `messages[0].content[${i}] is a video given as a data: URL: it is sent unencrypted because the encryption protocol has no encrypted form for videos; ` +
      'leave it out if it must not leave in plain text';
    expect(warnings).toEqual([warning(0), warning(1)]);
  });

  it('reasoning_content left out: the warning in full', () => {
    const warnings: string[] = [];
    encryptChatRequest({ messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'c', reasoning_content: 'thought' }] }, session, {
      onWarning: (m) => warnings.push(m),
    });
    expect(warnings).toEqual([
      'messages[1] carries reasoning_content, which the encryption protocol does not encrypt; ' +
        'it was left out of the request rather than sent in plain text. Remove it before sending back an answer',
    ]);
  });
});
