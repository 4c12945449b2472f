/**
 * The mock service's answer bodies: `chat.completion`, `chat.completion.chunk` and Ark-style
 * error JSON, from an AnswerPlan and a `seal` function (encryption, or identity in plain mode).
 */
import { chunkText, mockPieces, type AnswerPlan } from './scenarios.js';

export interface ResponseContext {
  readonly id: string;
  readonly created: number;
  readonly model: string;
  /** Encrypts one text (protocol §3) when the request was encrypted; identity otherwise. */
  readonly seal: (text: string) => string;
}

export interface ArkErrorBody {
  error: { code: string; message: string; param: string; type: string };
}

export function errorBody(code: string, message: string, type: string, param = ''): ArkErrorBody {
  return { error: { code, message, param, type } };
}

function countChars(text: string | null): number {
  if (text === null) return 0;
  let count = 0;
  for (let i = 0; i < text.length; i += 1) {
    const unit = text.charCodeAt(i);
    if (unit < 0xdc00 || unit > 0xdfff) count += 1; // a low surrogate ends a pair already counted
  }
  return count;
}

export function usageOf(plan: AnswerPlan): Record<string, unknown> {
  const reasoningTokens = countChars(plan.reasoning);
  const completionTokens = countChars(plan.content) + reasoningTokens + (plan.toolCalls.length > 0 ? 10 : 0);
  return {
    prompt_tokens: plan.promptTokens,
    completion_tokens: completionTokens,
    total_tokens: plan.promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: reasoningTokens },
  };
}

/** Non-streamed answer (`application/json`). */
export function completionBody(plan: AnswerPlan, ctx: ResponseContext): Record<string, unknown> {
  let content: string | null = null;
  if (plan.content !== null) {
    content = plan.pieces ? mockPieces(plan.content).map(ctx.seal).join('') : ctx.seal(plan.content);
  }
  const message: Record<string, unknown> = { role: 'assistant', content };
  if (plan.reasoning !== null) message['reasoning_content'] = ctx.seal(plan.reasoning);
  if (plan.toolCalls.length > 0) message['tool_calls'] = plan.toolCalls;
  const choices: Record<string, unknown>[] = [
    { index: 0, message, finish_reason: plan.finishReason, logprobs: null },
  ];
  if (plan.filtered !== null) {
    choices.push({
      index: 1,
      message: { role: 'assistant', content: plan.filtered },
      finish_reason: 'content_filter',
      logprobs: null,
    });
  }
  return {
    id: ctx.id,
    object: 'chat.completion',
    created: ctx.created,
    model: ctx.model,
    service_tier: 'default',
    choices,
    usage: usageOf(plan),
  };
}

function chunk(ctx: ResponseContext, delta: Record<string, unknown>, finishReason: string | null = null): Record<string, unknown> {
  return {
    id: ctx.id,
    object: 'chat.completion.chunk',
    created: ctx.created,
    model: ctx.model,
    service_tier: 'default',
    choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }],
  };
}

const TOOL_ARGUMENT_CHUNK_CHARS = 8;

/**
 * Streamed answer, chunk by chunk (lazily, so `mock-long` stays small in memory): reasoning
 * chunks, then tool call or content chunks (each delta text sealed on its own), then the final
 * chunk (`content: ""`, or the plain content_filter text), then the usage chunk if asked.
 * An empty content goes through `seal` like any other (protocol §5): in an encrypted stream it is
 * the ciphertext of the empty text (the 16-byte tag alone, 24 base64 characters), never a plain
 * `""`, which the official Python SDK would fail to decrypt.
 */
export function* completionChunks(plan: AnswerPlan, ctx: ResponseContext, includeUsage: boolean): Generator<Record<string, unknown>> {
  let role: { role?: 'assistant' } = { role: 'assistant' };
  const takeRole = (): { role?: 'assistant' } => {
    const first = role;
    role = {};
    return first;
  };
  if (plan.reasoning !== null) {
    for (const piece of chunkText(plan.reasoning, plan.streamChunk)) {
      yield chunk(ctx, { ...takeRole(), content: ctx.seal(''), reasoning_content: ctx.seal(piece) });
    }
  }
  for (const [index, call] of plan.toolCalls.entries()) {
    const head = { index, id: call.id, type: call.type, function: { name: call.function.name, arguments: '' } };
    yield chunk(ctx, { ...takeRole(), content: null, tool_calls: [head] });
    for (const piece of chunkText(call.function.arguments, TOOL_ARGUMENT_CHUNK_CHARS)) {
      yield chunk(ctx, { tool_calls: [{ index, function: { arguments: piece } }] });
    }
  }
  if (plan.content !== null) {
    const pieces = plan.pieces ? mockPieces(plan.content) : chunkText(plan.content, plan.streamChunk);
    for (const piece of pieces) yield chunk(ctx, { ...takeRole(), content: ctx.seal(piece) });
  }
  if (plan.filtered !== null) {
    yield chunk(ctx, { ...takeRole(), content: plan.filtered }, 'content_filter');
  } else if (plan.toolCalls.length > 0) {
    yield chunk(ctx, { ...takeRole() }, plan.finishReason);
  } else {
    yield chunk(ctx, { ...takeRole(), content: ctx.seal('') }, plan.finishReason);
  }
  if (includeUsage) {
    yield {
      id: ctx.id,
      object: 'chat.completion.chunk',
      created: ctx.created,
      model: ctx.model,
      service_tier: 'default',
      choices: [],
      usage: usageOf(plan),
    };
  }
}
