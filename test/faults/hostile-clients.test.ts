/**
 * Issue 10, the answer side, through the clients people use: the real `openai` client, the
 * Vercel AI SDK and LangChain over createEncryptedFetch, against the hostile server of
 * hostile-scenarios.ts. Injected content, a spliced content_filter text and plain reasoning
 * end the call or the stream in an error, and never show up as the model's words.
 */
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { ChatOpenAI } from '@langchain/openai';
import { generateText, streamText } from 'ai';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecryptionFailedError, EventStreamError, createEncryptedFetch, type ArkEncryptionOptions } from '../../src/index.js';
import type { HostileServer } from '../helpers/hostile-server.js';
import { SECRET } from './helpers.js';
import { INJECTED, LIMITS, startScenarioServer } from './hostile-scenarios.js';

let server: HostileServer;
beforeAll(async () => {
  server = await startScenarioServer();
});
afterAll(() => server.close());

function options(): ArkEncryptionOptions {
  return { certificate: server.pem, cacheDir: false, sessionPool: 0, ...LIMITS };
}

describe('the openai client never shows injected text as the model\'s answer', () => {
  const client = (): OpenAI =>
    new OpenAI({ apiKey: 'k', baseURL: server.url, maxRetries: 0, fetch: createEncryptedFetch(options()) });
  const ENCRYPTED = { headers: { 'x-is-encrypted': 'true' } };
  const messages = [{ role: 'user' as const, content: SECRET }];

  it('non-streamed: a content array, a refusal: the call rejects with a 502 naming DecryptionFailedError\'s code', async () => {
    for (const model of ['inject-json', 'refusal-json']) {
      const outcome = await client().chat.completions.create({ model, messages }, ENCRYPTED).then(
        (completion) => ({ completion, error: undefined }),
        (error: unknown) => ({ completion: undefined, error }),
      );
      expect(outcome.completion).toBeUndefined();
      // createEncryptedFetch answers it as a 502 naming the code: openai's usual server error.
      expect(outcome.error).toBeInstanceOf(OpenAI.APIError);
      expect((outcome.error as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
      expect((outcome.error as Error).message).toContain('ERR_ARK_E2EE_DECRYPTION_FAILED');
      expect((outcome.error as Error).message).not.toContain(INJECTED);
    }
  });

  it('streamed: the genuine chunk comes out, then the iteration throws; the injected text never does', async () => {
    for (const [model, type] of [['inject-stream', EventStreamError], ['splice', EventStreamError], ['reasoning-stream', DecryptionFailedError]] as const) {
      const seen: unknown[] = [];
      let error: unknown;
      try {
        const stream = await client().chat.completions.create({ model, messages, stream: true }, ENCRYPTED);
        for await (const part of stream) seen.push(part.choices[0]?.delta);
      } catch (caught) {
        error = caught;
      }
      expect(error, model).toBeInstanceOf(type);
      expect(JSON.stringify(seen), `${model} ${JSON.stringify(seen)}`).not.toContain(INJECTED);
      expect(seen).toContainEqual(expect.objectContaining({ content: 'Hello' }));
    }
  });
});

describe('the Vercel AI SDK and LangChain never show injected text either', () => {
  const provider = () =>
    createOpenAICompatible({ name: 'ark', baseURL: server.url, apiKey: 'k', fetch: createEncryptedFetch(options()), headers: { 'x-is-encrypted': 'true' } });

  it('AI SDK generateText: a content array is an error, not the answer', async () => {
    const outcome = await generateText({ model: provider()('inject-json'), prompt: SECRET, maxRetries: 0 }).then(
      (result) => ({ text: result.text, error: undefined }),
      (error: unknown) => ({ text: '', error }),
    );
    expect(outcome.error).toBeDefined();
    expect(outcome.text).not.toContain(INJECTED);
  });

  it('AI SDK streamText: injected content, a spliced content_filter text, a plain `reasoning` end in an error, never in a delta', async () => {
    for (const model of ['inject-stream', 'splice', 'reasoning-stream', 'reasoning-field-stream']) {
      const result = streamText({ model: provider()(model), prompt: SECRET, maxRetries: 0, onError: () => {} });
      const parts: { type: string; text?: string }[] = [];
      let thrown: unknown;
      try {
        for await (const part of result.fullStream) parts.push(part as { type: string; text?: string });
      } catch (caught) {
        thrown = caught;
      }
      // The SDK reports a failing stream as an error part, or throws it from the iteration.
      expect(thrown !== undefined || parts.some((part) => part.type === 'error'), model).toBe(true);
      const shown = parts.filter((part) => part.type === 'text-delta' || part.type === 'reasoning-delta').map((part) => part.text).join('');
      // (The SDK's own pipes may drop the genuine chunk delivered just before the error.)
      expect(shown, model).not.toContain(INJECTED);
    }
  });

  it('LangChain invoke and stream: the call fails, the injected text never comes out', async () => {
    const chat = (model: string) =>
      new ChatOpenAI({
        model,
        apiKey: 'k',
        maxRetries: 0,
        configuration: { baseURL: server.url, fetch: createEncryptedFetch(options()), defaultHeaders: { 'x-is-encrypted': 'true' } },
      });
    await expect(chat('inject-json').invoke([['human', SECRET]])).rejects.toThrow();
    for (const model of ['inject-stream', 'splice']) {
      let shown = '';
      let error: unknown;
      try {
        for await (const part of await chat(model).stream([['human', SECRET]])) shown += JSON.stringify(part.content);
      } catch (caught) {
        error = caught;
      }
      expect(error, model).toBeDefined();
      expect(shown, model).not.toContain(INJECTED);
    }
  });
});
