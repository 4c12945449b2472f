/**
 * chat-route.ts, the proxy's encryptAll guard: the spellings a lenient server routes as a chat
 * completion, and the bodies that carry chat messages.
 */
import { describe, expect, it } from 'vitest';
import { UnsupportedRequestError } from '../../src/errors.js';
import { refusePlainChat, routedPath, routesToChatCompletion } from '../../src/transport/chat-route.js';

describe('routedPath', () => {
  it.each([
    ['/api/v3/chat//completions', '/api/v3/chat/completions'],
    ['/api/v3//chat/completions', '/api/v3/chat/completions'],
    ['/api/v3/%63hat/completions', '/api/v3/chat/completions'],
    ['/api/v3/chat/%2563ompletions', '/api/v3/chat/completions'],
    ['/api/v3/chat/completions;x=1', '/api/v3/chat/completions'],
    ['/api/v3;v=2/CHAT/Completions', '/api/v3/chat/completions'],
    ['/api/v3/chat/completions%2F', '/api/v3/chat/completions'],
    ['/api/v3/chat\\completions', '/api/v3/chat/completions'],
    ['/api/v3/x/../chat/./completions/', '/api/v3/chat/completions'],
    ['/api/v3/chat/completions%zz', '/api/v3/chat/completions%zz'],
  ])('%s is routed as %s', (path, routed) => {
    expect(routedPath(path)).toBe(routed);
  });

  it('knows the chat completion spellings, bots and batch included, and nothing else', () => {
    for (const path of ['/chat/completions', '/bots/chat/completions', '/batch/chat/completions', '/Chat/Completions/']) {
      expect(routesToChatCompletion(path), path).toBe(true);
    }
    for (const path of ['/completions', '/chat', '/embeddings', '/chat/completions/x']) {
      expect(routesToChatCompletion(path), path).toBe(false);
    }
  });
});

describe('refusePlainChat', () => {
  const refused = (body: string | Uint8Array | undefined): boolean => {
    try {
      refusePlainChat('POST', '/x', body);
      return false;
    } catch (error) {
      expect(error).toBeInstanceOf(UnsupportedRequestError);
      return true;
    }
  };

  it('refuses a body with messages in any letter case, a BOM, or JSON it cannot read', () => {
    expect(refused('{"model":"m","messages":[]}')).toBe(true);
    expect(refused('{"MESSAGES":[]}')).toBe(true);
    expect(refused(new TextEncoder().encode('\uFEFF{"messages":[]}'))).toBe(true);
    expect(refused('{"messages" : [] } trailing')).toBe(true);
  });

  it('lets through bodies without chat messages', () => {
    expect(refused(undefined)).toBe(false);
    expect(refused('')).toBe(false);
    expect(refused('{"model":"m","input":"messages"}')).toBe(false);
    expect(refused('[{"messages":[]}]')).toBe(false);
    expect(refused(new Uint8Array([0xff, 0x00]))).toBe(false);
  });

  it('says whether the path looks like a chat completion', () => {
    expect(() => refusePlainChat('POST', '/chat//completions', '{"messages":[]}')).toThrow(/lenient server/);
    expect(() => refusePlainChat('POST', '/other', '{"messages":[]}')).toThrow(/not a chat completion/);
  });
});
