/**
 * encryptChatRequest (protocol §4): every text and data: URL becomes ciphertext the service can
 * open (checked with node:crypto, test/helpers/server-crypto.ts), nothing else changes, the
 * input is never mutated, and every shape the protocol cannot carry is refused with its place.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { UnsupportedContentError } from '../../src/errors.js';
import { encryptChatRequest } from '../../src/protocol/request.js';
import { sessionFromKey } from '../../src/protocol/create-session.js';
import { serverDecrypt, serverEncrypt } from '../helpers/server-crypto.js';

type Json = Record<string, unknown>;

const KEY = new Uint8Array(32).map((_, i) => i * 7 + 1);
const NONCE = new Uint8Array(12).map((_, i) => 200 - i);
const session = sessionFromKey(KEY, NONCE);

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Reflect.ownKeys(value)) deepFreeze((value as Record<PropertyKey, unknown>)[key]);
  }
  return value;
}

const isHttp = (url: string): boolean => /^https?:/i.test(url);

/** The service's side: the same body with every ciphertext opened. */
function serverDecryptBody(body: Json): Json {
  const messages = (body.messages as unknown[]).map((m) => {
    const message = m as Json;
    const { content } = message;
    if (typeof content === 'string') return { ...message, content: serverDecrypt(KEY, NONCE, content) };
    if (!Array.isArray(content)) return message;
    const parts = content.map((p: unknown) => {
      const part = p as Json;
      if (part.type === 'text') return { ...part, text: serverDecrypt(KEY, NONCE, part.text as string) };
      if (part.type !== 'image_url') return part;
      const image = part.image_url as Json;
      const url = image.url as string;
      return isHttp(url) ? part : { ...part, image_url: { ...image, url: serverDecrypt(KEY, NONCE, url) } };
    });
    return { ...message, content: parts };
  });
  return { ...body, messages };
}

const wellFormed = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }).filter((s) => s.isWellFormed()),
);
const extras = (reserved: string[]) =>
  fc.dictionary(
    fc.string({ maxLength: 8 }).filter((k) => !reserved.includes(k)),
    fc.jsonValue({ maxDepth: 2 }),
    { maxKeys: 3 },
  );
const textPart = fc
  .tuple(wellFormed, extras(['type', 'text']))
  .map(([text, extra]) => ({ ...extra, type: 'text', text }));
const dataImage = fc
  .tuple(fc.base64String({ maxLength: 40 }), fc.constantFrom('image/png', 'image/jpeg'), extras(['type', 'image_url']))
  .map(([b64, mime, extra]) => ({ ...extra, type: 'image_url', image_url: { url: `data:${mime};base64,${b64}`, detail: 'low' } }));
const httpImage = fc
  .tuple(fc.webUrl({ validSchemes: ['http', 'https'] }), fc.boolean())
  .map(([url, upper]) => ({ type: 'image_url', image_url: { url: upper ? url.replace(/^http/, 'HTTP') : url } }));
const videoPart = fc.webUrl().map((url) => ({ type: 'video_url', video_url: { url, fps: 1 } }));
const part = fc.oneof(textPart, dataImage, httpImage, videoPart);

const message = fc
  .tuple(
    fc.oneof(fc.constantFrom('system', 'user', 'assistant', 'tool'), fc.string({ maxLength: 6 })),
    fc.oneof(
      wellFormed.map((content) => ({ content })),
      fc.constant({ content: null }),
      fc.constant({}),
      fc.array(part, { maxLength: 5 }).map((content) => ({ content })),
    ),
    extras(['role', 'content']),
  )
  .map(([role, content, extra]) => ({ ...extra, role, ...content }));
const body = fc
  .tuple(fc.array(message, { maxLength: 6 }), extras(['messages']))
  .map(([messages, extra]) => ({ ...extra, model: 'ep-test', messages }));

describe('encryptChatRequest', () => {
  it('encrypts every text and data: URL so that the service gets the original body back', () => {
    fc.assert(
      fc.property(body, (input) => {
        const before = structuredClone(input);
        deepFreeze(input);
        const warnings: string[] = [];
        const output = encryptChatRequest(input, session, { onWarning: (m) => warnings.push(m) });
        expect(output).not.toBe(input);
        expect(input).toEqual(before);
        // The service reads the JSON text: what it gets back is the body as JSON says it (-0 is 0 there).
        expect(JSON.parse(JSON.stringify(serverDecryptBody(output)))).toEqual(JSON.parse(JSON.stringify(before)));

        let httpCount = 0;
        output.messages.forEach((m: Json, i) => {
          const original = before.messages[i] as Json;
          if (typeof original.content === 'string') {
            expect(m.content).toBe(serverEncrypt(KEY, NONCE, original.content));
          }
          if (!Array.isArray(original.content)) return;
          (m.content as Json[]).forEach((p, j) => {
            const o = (original.content as Json[])[j]!;
            if (o.type === 'text') expect(p.text).toBe(serverEncrypt(KEY, NONCE, o.text as string));
            if (o.type !== 'image_url') return;
            const url = (o.image_url as Json).url as string;
            if (isHttp(url)) {
              expect(warnings[httpCount++]).toContain(`messages[${i}].content[${j}]`);
            } else {
              expect((p.image_url as Json).url).toBe(serverEncrypt(KEY, NONCE, url));
            }
          });
        });
        expect(warnings.length).toBe(httpCount);
      }),
      { numRuns: 200 },
    );
  });

  it('leaves everything but the contents as it is', () => {
    const tools = [{ type: 'function', function: { name: 'f', parameters: {} } }];
    const toolCalls = [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }];
    const input = deepFreeze({
      model: 'm',
      stream: true,
      tools,
      messages: [{ role: 'assistant', content: null, tool_calls: toolCalls }, { role: 'tool', content: '', tool_call_id: 'c1' }],
    });
    const output = encryptChatRequest(input, session);
    // Plain JSON data already: read as it is, not copied.
    expect(output.tools).toBe(tools);
    expect(output.messages[0]).toBe(input.messages[0]);
    expect(output.messages[1]).toEqual({ role: 'tool', content: serverEncrypt(KEY, NONCE, ''), tool_call_id: 'c1' });
  });
});

describe('the default warning', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.resetModules();
  });

  it('console.warns once per process, naming the part', async () => {
    vi.resetModules();
    const fresh = await import('../../src/protocol/request.js');
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const input = {
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'hi' }, { type: 'image_url', image_url: { url: 'https://x.test/a.png' } }] },
      ],
    };
    fresh.encryptChatRequest(input, session);
    fresh.encryptChatRequest(input, session);
    fresh.encryptChatRequest({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'http://y' } }] }] }, session);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toContain('messages[0].content[1]');
    expect(String(warn.mock.calls[0]?.[0])).toContain('https');
  });

  it('does not warn when given onWarning, nor for data: URLs', async () => {
    vi.resetModules();
    const fresh = await import('../../src/protocol/request.js');
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const onWarning = vi.fn();
    const http = { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'http://z' } }] }] };
    fresh.encryptChatRequest(http, session, { onWarning });
    fresh.encryptChatRequest({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:,x' } }] }] }, session);
    expect(onWarning).toHaveBeenCalledTimes(1);
    expect(warn).not.toHaveBeenCalled();
  });
});

interface Refusal {
  /** A bad message, or a bad part to put in a message's content array. */
  message?: unknown;
  part?: unknown;
}

const badContent = fc.constantFrom<unknown>(0, 42.5, true, false, {}, { text: 'x' }, { type: 'text', text: 'x' });
const refusals = fc.oneof(
  badContent.map((content): Refusal => ({ message: { role: 'user', content } })),
  fc.constantFrom<unknown>(null, 'hello', 1, true, ['text'], [], undefined).map((message): Refusal => ({ message })),
  fc
    .constantFrom<unknown>(
      null,
      'text',
      3,
      false,
      [{ type: 'text', text: 'x' }],
      { type: 'audio', audio: 'x' },
      { type: 'input_audio', input_audio: {} },
      { type: 'file' },
      { text: 'no type' },
      { type: 1 },
      { type: 'TEXT', text: 'x' },
      { type: 'text' },
      { type: 'text', text: null },
      { type: 'text', text: 5 },
      { type: 'text', text: ['x'] },
      { type: 'text', text: 'lone \ud800 surrogate' },
      { type: 'image_url' },
      { type: 'image_url', image_url: 'https://x.test/a.png' },
      { type: 'image_url', image_url: {} },
      { type: 'image_url', image_url: null },
      { type: 'image_url', image_url: { url: 7 } },
      { type: 'image_url', image_url: { url: 'ftp://x.test/a.png' } },
      { type: 'image_url', image_url: { url: 'file:///etc/passwd' } },
      { type: 'image_url', image_url: { url: 'blob:https://x.test/1' } },
      { type: 'image_url', image_url: { url: 'javascript:alert(1)' } },
      { type: 'image_url', image_url: { url: 'x.test/a.png' } },
      { type: 'image_url', image_url: { url: ' https://x.test/a.png' } },
      { type: 'image_url', image_url: { url: '' } },
      { type: 'image_url', image_url: { url: 'data:,\udfff' } },
    )
    .map((part): Refusal => ({ part })),
  fc.constantFrom('\ud800', 'a\udc00', '\udc00\ud800').map((content): Refusal => ({ message: { role: 'user', content } })),
);

describe('refusals', () => {
  it('refuses every shape the protocol cannot carry, naming its place', () => {
    fc.assert(
      fc.property(body, refusals, fc.nat(), fc.nat(), (valid, refusal, at, partAt) => {
        const messages: unknown[] = [...valid.messages];
        const messageIndex = at % (messages.length + 1);
        let partIndex: number | undefined;
        if (refusal.part === undefined) {
          messages.splice(messageIndex, 0, refusal.message);
        } else {
          const parts: unknown[] = [{ type: 'text', text: 'ok' }, { type: 'video_url', video_url: { url: 'https://v' } }];
          partIndex = partAt % (parts.length + 1);
          parts.splice(partIndex, 0, refusal.part);
          messages.splice(messageIndex, 0, { role: 'user', content: parts });
        }
        const input = deepFreeze({ ...valid, messages });
        let error: unknown;
        try {
          encryptChatRequest(input, session, { onWarning: () => undefined });
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(UnsupportedContentError);
        const refused = error as UnsupportedContentError;
        expect(refused.code).toBe('ERR_ARK_E2EE_UNSUPPORTED_CONTENT');
        expect(refused.messageIndex).toBe(messageIndex);
        expect(refused.partIndex).toBe(partIndex);
        const place = partIndex === undefined ? `messages[${messageIndex}].content ` : `messages[${messageIndex}].content[${partIndex}] `;
        expect(refused.message.startsWith(place)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a body without a messages array', () => {
    for (const bad of [{}, { messages: 'hi' }, { messages: { 0: {} } }, { messages: null }, null, [], 'x', 3]) {
      let error: unknown;
      try {
        encryptChatRequest(bad, session);
      } catch (e) {
        error = e;
      }
      expect(error, JSON.stringify(bad)).toBeInstanceOf(UnsupportedContentError);
      expect((error as UnsupportedContentError).messageIndex).toBe(-1);
      expect((error as UnsupportedContentError).partIndex).toBeUndefined();
      expect((error as Error).message).toContain('messages');
    }
  });
});

describe('what JSON.stringify sends is what is encrypted (issue 10)', () => {
  const opened = (output: unknown): Json => serverDecryptBody(output as Json);

  it('toJSON on the body, a message and a part: their output is encrypted, not the fields', () => {
    const part = { type: 'text', text: 'field text', toJSON: () => ({ type: 'text', text: 'sent part' }) };
    const message = { role: 'user', content: 'field content', toJSON: () => ({ role: 'user', content: [part] }) };
    const body = {
      model: 'm',
      messages: [{ role: 'system', content: 'ignored' }],
      toJSON: () => ({ model: 'm', messages: [message, { role: 'assistant', content: 'plain field' }] }),
    };
    const output = encryptChatRequest(body, session, { onWarning: () => undefined });
    const sent = JSON.parse(JSON.stringify(output)) as Json;
    expect(JSON.stringify(output)).not.toContain('sent part');
    expect(JSON.stringify(output)).not.toContain('plain field');
    expect(opened(sent)).toEqual({
      model: 'm',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'sent part' }] }, { role: 'assistant', content: 'plain field' }],
    });
  });

  it('a Date or other toJSON value inside a part goes as JSON.stringify makes it', () => {
    const when = new Date(0);
    const output = encryptChatRequest({ messages: [{ role: 'user', content: 'hi', when }] }, session) as { messages: Json[] };
    expect(output.messages[0]!.when).toBe(when.toJSON());
  });

  it('a body too deep, with a BigInt or a cycle is an UnsupportedContentError, not a RangeError or TypeError', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 200_000; i++) deep = [deep];
    const cyclic: Json = { messages: [] };
    cyclic.self = cyclic;
    for (const bad of [{ messages: [], deep }, { messages: [], n: 1n }, cyclic]) {
      let error: unknown;
      try {
        encryptChatRequest(bad, session);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(UnsupportedContentError);
      expect((error as UnsupportedContentError).messageIndex).toBe(-1);
    }
  });

  it('reasoning_content leaves the request, with a warning; null stays', () => {
    const warnings: string[] = [];
    const input = deepFreeze({
      messages: [
        { role: 'user', content: 'q' },
        { role: 'assistant', content: 'a', reasoning_content: 'private thought' },
        { role: 'assistant', content: null, reasoning_content: { text: 'not a string' }, tool_calls: [] },
        { role: 'assistant', content: 'b', reasoning_content: null },
      ],
    });
    const output = encryptChatRequest(input, session, { onWarning: (m) => warnings.push(m) }) as { messages: Json[] };
    expect(JSON.stringify(output)).not.toContain('private thought');
    expect('reasoning_content' in output.messages[1]!).toBe(false);
    expect(output.messages[2]).toEqual({ role: 'assistant', content: null, tool_calls: [] });
    expect(output.messages[3]!.reasoning_content).toBeNull();
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain('messages[1]');
    expect(input.messages[1]!.reasoning_content).toBe('private thought');
  });

  it('a video_url data: URL is sent as it is, with a warning; an https video without one', () => {
    const warnings: string[] = [];
    const video = { type: 'video_url', video_url: { url: 'DATA:video/mp4;base64,AAAA' } };
    const output = encryptChatRequest(
      { messages: [{ role: 'user', content: [video, { type: 'video_url', video_url: { url: 'https://v.test/a.mp4' } }] }] },
      session,
      { onWarning: (m) => warnings.push(m) },
    ) as { messages: { content: unknown[] }[] };
    expect(output.messages[0]!.content[0]).toEqual(video);
    expect(warnings).toEqual([expect.stringContaining('messages[0].content[0] is a video given as a data: URL')]);
  });

  it('an image URL whose scheme is not at its very start is refused', () => {
    for (const url of ['x/http://example.com/a.png', ' https://example.com/a.png', '/data:image/png;base64,AAAA']) {
      expect(() => encryptChatRequest({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }] }] }, session))
        .toThrow(UnsupportedContentError);
    }
  });
});

describe('the default warning, per kind', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.resetModules();
  });

  it('warns once per process for each kind: an http image, a data: video, a reasoning_content', async () => {
    vi.resetModules();
    const fresh = await import('../../src/protocol/request.js');
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const input = {
      messages: [
        { role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x.test/a.png' } }, { type: 'video_url', video_url: { url: 'data:video/mp4;base64,AA' } }] },
        { role: 'assistant', content: 'a', reasoning_content: 'r' },
      ],
    };
    for (let i = 0; i < 3; i++) fresh.encryptChatRequest(input, session);
    expect(warn).toHaveBeenCalledTimes(3);
    const said = warn.mock.calls.map((call) => String(call[0])).join('\n');
    expect(said).toContain('https image URL');
    expect(said).toContain('data: URL');
    expect(said).toContain('reasoning_content');
  });
});

describe('members named like an encrypted place in another case are refused (a case-blind server reads them)', () => {
  const cases: [string, unknown, number, number | undefined][] = [
    ['"Messages" beside messages', { messages: [], Messages: [{ role: 'user', content: 'secret' }] }, -1, undefined],
    ['"meſſages" (long s)', { messages: [], 'me\u017f\u017fages': [] }, -1, undefined],
    ['"Content" in a message', { messages: [{ role: 'user', Content: 'secret' }] }, 0, undefined],
    ['"CONTENT" beside content', { messages: [{ role: 'user', content: 'a', CONTENT: 'secret' }] }, 0, undefined],
    ['"Reasoning_Content"', { messages: [{ role: 'assistant', content: 'a', Reasoning_Content: 'secret' }] }, 0, undefined],
    ['"Text" in a text part', { messages: [{ role: 'user', content: [{ type: 'text', text: 'a', Text: 'secret' }] }] }, 0, 0],
    ['"text" in an image part', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:,x' }, text: 'secret' }] }] }, 0, 0],
    ['"text" in a video part', { messages: [{ role: 'user', content: [{ type: 'video_url', video_url: { url: 'https://v' }, text: 'secret' }] }] }, 0, 0],
    ['"URL" in image_url', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/a.png', URL: 'data:,secret' } }] }] }, 0, 0],
  ];
  it.each(cases)('%s', (_name, body, messageIndex, partIndex) => {
    let error: unknown;
    try {
      encryptChatRequest(body, session, { onWarning: () => undefined });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UnsupportedContentError);
    expect((error as UnsupportedContentError).messageIndex).toBe(messageIndex);
    expect((error as UnsupportedContentError).partIndex).toBe(partIndex);
    expect((error as Error).message).not.toContain('secret');
  });

  it('other members in any case are left alone', () => {
    const output = encryptChatRequest({ Model: 'm', messages: [{ Role: 'user', content: 'x', Name: 'n' }] }, session) as { messages: Json[] };
    expect(output.messages[0]).toMatchObject({ Role: 'user', Name: 'n' });
  });
});
