/**
 * The proxy's encryptAll guard at its edges (issue 16): the spellings a lenient server routes
 * that test/transport/chat-route.test.ts does not try, and the refusal's full wording (the
 * method and path it names, "nothing was sent", what to do instead).
 */
import { describe, expect, it } from 'vitest';
import { UnsupportedRequestError } from '../../src/errors.js';
import { refusePlainChat, routedPath, routesToChatCompletion } from '../../src/transport/chat-route.js';

describe('routedPath, less usual spellings', () => {
  it.each([
    // A stray `%` stops the whole-path decode; the well-formed escapes around it, in either case, are still decoded.
    ['/api/v3/chat%2Fcompletions%', '/api/v3/chat/completions%'],
    ['/api/v3/chat%2fcompletions%', '/api/v3/chat/completions%'],
    ['/api/v3/%63hat/completions%zz', '/api/v3/chat/completions%zz'],
    // An escape that is not UTF-8 on its own stays as it is (in lower case), next to a stray `%`.
    ['/x/%C3/chat/completions%', '/x/%c3/chat/completions%'],
    // Spaces around a segment, percent-encoded, are cut as a lenient server cuts them.
    ['/api/v3/%20chat%20/completions', '/api/v3/chat/completions'],
    // Three rounds of decoding, not four.
    ['/x/%25252563', '/x/%63'],
    ['/x/%252563', '/x/c'],
    ['/', '/'],
    ['/../..', '/'],
  ])('%s is routed as %s', (path, routed) => {
    expect(routedPath(path)).toBe(routed);
  });

  it('a stray `%` does not hide a chat completion spelled with escapes', () => {
    expect(routesToChatCompletion('/api/v3/chat%2Fcompletions;%')).toBe(true);
    expect(routesToChatCompletion('/api/v3/chat%2fcompletions%2F%')).toBe(false);
  });
});

describe('refusePlainChat, its wording and the bodies at the edge', () => {
  const refusal = (method: string, path: string, body: string): UnsupportedRequestError => {
    try {
      refusePlainChat(method, path, body);
    } catch (error) {
      expect(error).toBeInstanceOf(UnsupportedRequestError);
      expect(error).toMatchObject({ code: 'ERR_ARK_E2EE_UNSUPPORTED_REQUEST' });
      return error as UnsupportedRequestError;
    }
    throw new Error(`${method} ${path} ${body} was let through`);
  };

  it('a path a lenient server routes to the chat endpoint: named, and the fix given', () => {
    expect(refusal('POST', '/api/v3/chat//completions', '{"messages":[]}').message).toBe(
      '/api/v3/chat//completions is a chat completion as a lenient server routes it, but not spelled …/chat/completions ' +
        '(or it is the bot API, which the protocol does not cover), and its body carries "messages": with encryptAll ' +
        'it is refused rather than sent up in plain text; nothing was sent. Send it as POST …/chat/completions',
    );
  });

  it('any other path: the method and path named, and the fix given', () => {
    expect(refusal('PUT', '/api/v3/embeddings', '{"messages":[]}').message).toBe(
      'PUT /api/v3/embeddings is not a chat completion the protocol covers, and its body carries "messages": with ' +
        'encryptAll it is refused rather than sent up in plain text; nothing was sent. Send it as POST …/chat/completions',
    );
  });

  it('text that is not JSON but holds "messages": in any letter case and spacing is refused', () => {
    for (const body of ['{"MESSAGES"\t:[]} x', '{"Messages":[]', '{"messages"\n\n: []']) refusal('POST', '/x', body);
  });

  it('a key spelled with escapes is read as the key, in JSON and in text that is not JSON to us', () => {
    // A BOM first: stripped, then parsed as JSON.
    refusal('POST', '/x', '\uFEFF{"me\\u0073sages":[]}');
    // A parser that stops after the first value (Go's json.Decoder) reads "messages" here.
    refusal('POST', '/x', '{"me\\u0073sages":[{"role":"user","content":"secret"}]} trailing');
    refusal('POST', '/x', '{"\\u006D\\u0045SSAGES" :[]');
    expect(() => refusePlainChat('POST', '/x', '{"me\\u0073sage":[]} x')).not.toThrow();
  });

  it('a BOM inside the JSON makes it text to us, searched as text: a nested "messages" then counts (fail closed)', () => {
    refusal('POST', '/x', '{\uFEFF"input":{"messages":[]}}');
  });

  it('JSON null, a number, a string and an array carry no messages', () => {
    // Only a top-level key counts, with a BOM before the JSON too.
    for (const body of ['null', '5', '"messages"', '["messages"]', '{"model":"messages"}', '\uFEFF{"input":{"messages":[]}}']) {
      expect(() => refusePlainChat('POST', '/x', body), body).not.toThrow();
    }
  });
});
