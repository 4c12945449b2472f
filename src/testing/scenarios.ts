/**
 * What the mock service answers: pure, deterministic functions of the (decrypted) request, so a
 * test can compute the expected answer from the plaintext it sent.
 *
 * Scenarios, chosen by the request's `model`:
 * - any other name (e.g. `mock-model`): the answer is `mockAnswerText(messages)`; non-streamed as
 *   one ciphertext, streamed as one ciphertext per chunk of 3 characters.
 * - `mock-pieces`: non-streamed content is many ciphertexts laid end to end, one per piece of 1–4
 *   characters (`mockPieces`), so some are padded base64 and some are not; streamed: one chunk per
 *   such piece.
 * - `mock-content-filter`: non-streamed, a second choice (index 1) with finish_reason
 *   `content_filter` and the plain text `MOCK_CONTENT_FILTER_TEXT`; streamed, a final chunk with
 *   that plain text and finish_reason `content_filter` (after the answer's chunks).
 * - `mock-tools`: with `tools` and no `tool` message, finish_reason `tool_calls`, content `null`
 *   and one call to the first tool with arguments `MOCK_TOOL_ARGUMENTS` (not encrypted). With a tool
 *   message, the usual answer (`summary: …`).
 * - `mock-reasoning`: also `reasoning_content` = `mockReasoningText(messages)`, encrypted like the
 *   content, in the message and in stream deltas (which carry `content: ""` meanwhile).
 * - `mock-429`: HTTP 429 with Ark's rate-limit error JSON. `mock-500`: HTTP 500.
 * - `mock-long:<N>` (or `mock-long:<N>:<chunk>`): an answer of N characters (`mockLongText(N)`),
 *   streamed in chunks of `chunk` characters (default 16).
 * - `fault-*`: the usual answer (`echo: …`), delivered wrong on purpose, for the fault tests
 *   (faults.ts): `fault-cut-stream` ends the answer inside an event (streamed) or halfway through
 *   its JSON; `fault-reset` resets the connection halfway through the answer; `fault-plain` sends
 *   the texts in plain where ciphertext is due; `fault-other-session` encrypts them under another
 *   session's key; `fault-replay` sends whole ciphertexts out of order and repeated (the first two
 *   swapped, the first repeated: see replayedOrder), which the protocol cannot detect;
 *   `fault-hang` never answers.
 * With `stream_options.include_usage: true`, a usage chunk with `choices: []` precedes `[DONE]`.
 */

export const MOCK_MODELS = {
  /** Any model name that is not one below behaves like this one. */
  default: 'mock-model',
  pieces: 'mock-pieces',
  contentFilter: 'mock-content-filter',
  tools: 'mock-tools',
  reasoning: 'mock-reasoning',
  rateLimited: 'mock-429',
  serverError: 'mock-500',
  /** Prefix: `mock-long:<N>` or `mock-long:<N>:<chunk>`; see mockLongModel. */
  long: 'mock-long:',
  /** Fault modes (faults.ts): the usual answer, delivered wrong on purpose. */
  faultCutStream: 'fault-cut-stream',
  faultReset: 'fault-reset',
  faultPlain: 'fault-plain',
  faultOtherSession: 'fault-other-session',
  faultReplay: 'fault-replay',
  faultHang: 'fault-hang',
} as const;

/** `mock-long:<length>` (and `:<chunkSize>` when given). */
export function mockLongModel(length: number, chunkSize?: number): string {
  return `${MOCK_MODELS.long}${length}${chunkSize === undefined ? '' : `:${chunkSize}`}`;
}

export const MOCK_CONTENT_FILTER_TEXT = 'The answer was withheld by the content filter.';
export const MOCK_TOOL_ARGUMENTS = '{"location":"北京"}';
export const MOCK_TOOL_CALL_ID = 'call_mock_0';
export const DEFAULT_STREAM_CHUNK_CHARS = 3;
export const DEFAULT_LONG_CHUNK_CHARS = 16;
/** Upper bound on `mock-long:<N>`. */
export const MAX_LONG_LENGTH = 50_000_000;

export type MockScenario =
  | { readonly kind: 'echo' | 'pieces' | 'content-filter' | 'tools' | 'reasoning' }
  | { readonly kind: 'long'; readonly length: number; readonly chunkSize: number }
  | { readonly kind: 'error'; readonly status: 429 | 500 };

export function scenarioForModel(model: string): MockScenario {
  switch (model) {
    case MOCK_MODELS.pieces: return { kind: 'pieces' };
    case MOCK_MODELS.contentFilter: return { kind: 'content-filter' };
    case MOCK_MODELS.tools: return { kind: 'tools' };
    case MOCK_MODELS.reasoning: return { kind: 'reasoning' };
    case MOCK_MODELS.rateLimited: return { kind: 'error', status: 429 };
    case MOCK_MODELS.serverError: return { kind: 'error', status: 500 };
  }
  const long = /^mock-long:(\d+)(?::(\d+))?$/.exec(model);
  if (long) {
    const length = Math.min(Number(long[1]), MAX_LONG_LENGTH);
    const chunkSize = Math.max(1, Number(long[2] ?? DEFAULT_LONG_CHUNK_CHARS));
    return { kind: 'long', length, chunkSize };
  }
  return { kind: 'echo' };
}

type Message = Record<string, unknown>;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The text of a message content: a string as is; parts joined with a space (`[image]`, `[video]`). */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part: unknown) => {
      if (!isRecord(part)) return '';
      if (part['type'] === 'text') return typeof part['text'] === 'string' ? part['text'] : '';
      if (part['type'] === 'image_url') return '[image]';
      if (part['type'] === 'video_url') return '[video]';
      return '';
    })
    .join(' ');
}

function asMessages(messages: unknown): Message[] {
  return Array.isArray(messages) ? messages.filter(isRecord) : [];
}

/**
 * The answer the mock gives to these (plaintext) messages: `summary: <tool content>` when the
 * last message is a `tool` message (the round trip after a tool call), otherwise
 * `echo: <text of the last user message>`.
 */
export function mockAnswerText(messages: unknown): string {
  const list = asMessages(messages);
  const last = list[list.length - 1];
  if (last?.['role'] === 'tool') return `summary: ${contentText(last['content'])}`;
  const user = [...list].reverse().find((message) => message['role'] === 'user');
  return `echo: ${user ? contentText(user['content']) : ''}`;
}

/** The reasoning_content of the `mock-reasoning` scenario. */
export function mockReasoningText(messages: unknown): string {
  return `thinking about: ${mockAnswerText(messages)}`;
}

/** One period of mockLongText: ASCII and CJK, every character a single UTF-16 unit. */
const LONG_PERIOD = 'The quick brown fox jumps over the lazy dog; 北京欢迎你! 0123456789 ';

/** N characters, deterministic, ASCII and CJK mixed. */
export function mockLongText(length: number): string {
  return LONG_PERIOD.repeat(Math.ceil(length / LONG_PERIOD.length)).slice(0, length);
}

const PIECE_SIZES = [2, 1, 2, 3, 2, 4] as const;

/**
 * Splits a text into pieces of 1–4 characters (code points, never splitting a surrogate pair),
 * in the cycle 2,1,2,3,2,4: an ASCII piece of 2 bytes gives an unpadded ciphertext (18 bytes),
 * 1, 3 or 4 bytes a padded one.
 */
export function mockPieces(text: string): string[] {
  const chars = Array.from(text);
  const pieces: string[] = [];
  for (let at = 0, i = 0; at < chars.length; i += 1) {
    const size = PIECE_SIZES[i % PIECE_SIZES.length] ?? 1;
    pieces.push(chars.slice(at, at + size).join(''));
    at += size;
  }
  return pieces;
}

/**
 * Pieces of `size` characters (code points, a surrogate pair counting as one, as the string
 * iterator does), lazily; an empty text gives no pieces. Slices by index, so `mock-long` answers
 * of tens of millions of characters are cut in well under a second.
 */
export function* chunkText(text: string, size: number): Generator<string> {
  let start = 0;
  while (start < text.length) {
    let end = start;
    for (let count = 0; count < size && end < text.length; count += 1) {
      const unit = text.charCodeAt(end);
      const next = end + 1 < text.length ? text.charCodeAt(end + 1) : 0;
      end += unit >= 0xd800 && unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff ? 2 : 1;
    }
    yield text.slice(start, end);
    start = end;
  }
}

export interface ToolCall {
  readonly id: string;
  readonly type: 'function';
  readonly function: { readonly name: string; readonly arguments: string };
}

/** What to answer, before any encryption. */
export interface AnswerPlan {
  /** `null` for a tool call answer. */
  readonly content: string | null;
  readonly reasoning: string | null;
  readonly toolCalls: readonly ToolCall[];
  readonly finishReason: 'stop' | 'tool_calls';
  /** Plain text of an extra content_filter choice / final chunk, or null. */
  readonly filtered: string | null;
  /** Non-streamed content as many ciphertexts end to end. */
  readonly pieces: boolean;
  /** Characters per streamed content chunk. */
  readonly streamChunk: number;
  readonly promptTokens: number;
}

function firstToolName(tools: unknown): string | null {
  if (!Array.isArray(tools)) return null;
  const first: unknown = tools[0];
  if (!isRecord(first) || !isRecord(first['function'])) return null;
  const name = first['function']['name'];
  return typeof name === 'string' ? name : null;
}

/** The answer plan for a (decrypted) chat request in a scenario that is not an error. */
export function planAnswer(scenario: MockScenario, request: Record<string, unknown>): AnswerPlan {
  const messages = asMessages(request['messages']);
  const promptTokens = messages.reduce((sum, m) => sum + Array.from(contentText(m['content'])).length, 0);
  const base: AnswerPlan = {
    content: mockAnswerText(messages),
    reasoning: null,
    toolCalls: [],
    finishReason: 'stop',
    filtered: null,
    pieces: false,
    streamChunk: DEFAULT_STREAM_CHUNK_CHARS,
    promptTokens,
  };
  switch (scenario.kind) {
    case 'pieces':
      return { ...base, pieces: true };
    case 'content-filter':
      return { ...base, filtered: MOCK_CONTENT_FILTER_TEXT };
    case 'reasoning':
      return { ...base, reasoning: mockReasoningText(messages) };
    case 'long':
      return { ...base, content: mockLongText(scenario.length), streamChunk: scenario.chunkSize };
    case 'tools': {
      const name = firstToolName(request['tools']);
      if (name === null || messages.some((m) => m['role'] === 'tool')) return base;
      const call: ToolCall = { id: MOCK_TOOL_CALL_ID, type: 'function', function: { name, arguments: MOCK_TOOL_ARGUMENTS } };
      return { ...base, content: null, toolCalls: [call], finishReason: 'tool_calls' };
    }
    default:
      return base;
  }
}
