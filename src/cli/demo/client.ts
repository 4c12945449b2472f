/**
 * The chat client the demo drives: the `openai` package when it can be loaded (a clone, or a
 * project that has it), else plain `fetch`; both over the same encrypting fetch, so what crosses
 * the wire is the same. An installed ark-e2ee does not depend on openai, so `npx ark-e2ee demo`
 * must run without it.
 */
import { createParser } from 'eventsource-parser';

export interface ChatMessage {
  role: string;
  content?: unknown;
  tool_calls?: ToolCall[];
  tool_call_id?: string;
  reasoning_content?: string;
}

export interface ToolCall {
  id: string;
  type: string;
  function: { name: string; arguments: string };
}

export interface Completion {
  choices: { index: number; finish_reason: string | null; message: ChatMessage }[];
}

export interface DemoClient {
  /** `openai` or `fetch`. */
  readonly name: string;
  create(body: Record<string, unknown>, headers: Record<string, string>): Promise<{ data: Completion; headers: Headers }>;
  /** The streamed answer's content deltas, as they arrive. */
  stream(body: Record<string, unknown>, headers: Record<string, string>): AsyncIterable<string>;
}

/** An error answer, as the fetch client reports it: the client's own class name and status. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string | undefined, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

interface OpenAILike {
  chat: {
    completions: {
      create(body: object, options: object): Promise<unknown> & { withResponse(): Promise<{ data: unknown; response: Response }> };
    };
  };
}

async function loadOpenAI(): Promise<(new (options: object) => OpenAILike) | undefined> {
  const name = 'openai'; // not a static import: the package does not depend on it
  try {
    const module = (await import(name)) as { default: new (options: object) => OpenAILike };
    return module.default;
  } catch {
    return undefined;
  }
}

async function failure(response: Response): Promise<ApiError> {
  const text = await response.text();
  let error: { message?: string; code?: string } = {};
  try {
    error = (JSON.parse(text) as { error?: typeof error }).error ?? {};
  } catch {
    // not JSON: the status says enough
  }
  return new ApiError(response.status, error.code, `${response.status} ${error.message ?? text.slice(0, 200)}`);
}

function fetchClient(baseURL: string, apiKey: string | null, encryptedFetch: typeof fetch): DemoClient {
  const post = async (body: Record<string, unknown>, headers: Record<string, string>): Promise<Response> => {
    const response = await encryptedFetch(`${baseURL}/chat/completions`, {
      method: 'POST',
      headers: { ...(apiKey === null ? {} : { authorization: `Bearer ${apiKey}` }), 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw await failure(response);
    return response;
  };
  return {
    name: 'fetch',
    async create(body, headers) {
      const response = await post(body, headers);
      return { data: (await response.json()) as Completion, headers: response.headers };
    },
    async *stream(body, headers) {
      const response = await post({ ...body, stream: true }, headers);
      const pending: string[] = [];
      const parser = createParser({
        onEvent: (event) => {
          if (event.data === '[DONE]') return;
          const chunk = JSON.parse(event.data) as { choices?: { delta?: { content?: string | null } }[] };
          pending.push(chunk.choices?.[0]?.delta?.content ?? '');
        },
      });
      const decoder = new TextDecoder();
      for await (const bytes of response.body as unknown as AsyncIterable<Uint8Array>) {
        parser.feed(decoder.decode(bytes, { stream: true }));
        yield* pending.splice(0);
      }
    },
  };
}

/**
 * The openai client when it loads (or as `choice` says), else the fetch client; both on
 * `encryptedFetch`. `apiKey` null: no Authorization header (access keys get one per request).
 */
export async function demoClient(baseURL: string, apiKey: string | null, encryptedFetch: typeof fetch, choice?: 'openai' | 'fetch'): Promise<DemoClient> {
  const OpenAI = choice === 'fetch' ? undefined : await loadOpenAI();
  if (OpenAI === undefined && choice === 'openai') throw new Error('the openai package cannot be loaded here: install it, or use --client fetch');
  if (OpenAI === undefined) return fetchClient(baseURL, apiKey, encryptedFetch);
  const client = new OpenAI({
    apiKey: apiKey ?? 'unused',
    baseURL,
    maxRetries: 0,
    fetch: encryptedFetch,
    ...(apiKey === null ? { defaultHeaders: { Authorization: null } } : {}),
  });
  return {
    name: 'openai',
    async create(body, headers) {
      const { data, response } = await client.chat.completions.create(body, { headers }).withResponse();
      return { data: data as Completion, headers: response.headers };
    },
    async *stream(body, headers) {
      const stream = (await client.chat.completions.create({ ...body, stream: true }, { headers })) as AsyncIterable<{
        choices: { delta?: { content?: string | null } }[];
      }>;
      for await (const chunk of stream) yield chunk.choices[0]?.delta?.content ?? '';
    },
  };
}
