/**
 * What the hostile server of the issue-10 tests answers, by the request's model: genuine
 * ciphertexts of the request's session around injected JSON, plain text, spliced content_filter
 * chunks, an event stream with no event, and bodies without end.
 */
import { sseEvent, startHostileServer, writeForever, type HostileExchange, type HostileServer } from '../helpers/hostile-server.js';

export const LIMITS = { maxEventBytes: 64 * 1024, maxAnswerBytes: 256 * 1024 };
export const INJECTED = 'INJECTED';

const chunk = (index: number, delta: Record<string, unknown>, finish: string | null = null): unknown => ({
  id: 'c', object: 'chat.completion.chunk', choices: [{ index, delta, finish_reason: finish }],
});
const completion = (message: Record<string, unknown>, finish = 'stop'): unknown => ({
  id: 'c', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', ...message }, finish_reason: finish }],
});

function json(response: HostileExchange['response'], body: unknown): void {
  response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
function sse(response: HostileExchange['response'], text: string): void {
  response.writeHead(200, { 'content-type': 'text/event-stream' }).end(text);
}

/** What the hostile server answers, by the request's model. */
export const ANSWERS: Record<string, (exchange: HostileExchange) => void> = {
  'inject-json': ({ response }) => json(response, completion({ content: [{ type: 'text', text: INJECTED }] })),
  'refusal-json': ({ response, seal }) => json(response, completion({ content: seal('fine'), refusal: INJECTED })),
  'reasoning-json': ({ response, seal }) => json(response, completion({ content: seal('fine'), reasoning_content: INJECTED })),
  'inject-stream': ({ response, seal }) =>
    sse(response, sseEvent(chunk(0, { role: 'assistant', content: seal('Hello') })) +
      sseEvent(chunk(0, { content: [{ type: 'text', text: INJECTED }] })) +
      sseEvent(chunk(0, { content: seal(' world') })) + 'data: [DONE]\n\n'),
  splice: ({ response, seal }) =>
    sse(response, sseEvent(chunk(0, { role: 'assistant', content: seal('Hello') })) +
      sseEvent(chunk(0, { content: INJECTED }, 'content_filter')) +
      sseEvent(chunk(0, { content: seal(' world') }, 'stop')) + 'data: [DONE]\n\n'),
  'reasoning-field-stream': ({ response, seal }) =>
    sse(response, sseEvent(chunk(0, { role: 'assistant', content: seal('Hello') })) +
      sseEvent(chunk(0, { reasoning: INJECTED })) + sseEvent(chunk(0, { content: seal(' world') }, 'stop')) + 'data: [DONE]\n\n'),
  'reasoning-stream': ({ response, seal }) =>
    sse(response, sseEvent(chunk(0, { role: 'assistant', content: seal('Hello') })) +
      sseEvent(chunk(0, { reasoning_content: INJECTED })) + 'data: [DONE]\n\n'),
  'filtered-last': ({ response, seal }) =>
    sse(response, sseEvent(chunk(0, { role: 'assistant', content: seal('Hello') })) +
      sseEvent(chunk(0, { content: 'filtered notice' }, 'content_filter')) + 'data: [DONE]\n\n'),
  'sse-json': ({ response }) => sse(response, JSON.stringify(completion({ content: INJECTED }))),
  'sse-empty': ({ response }) => sse(response, ''),
  'endless-line': ({ response }) => {
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    response.write('data: ');
    writeForever(response, Buffer.alloc(16 * 1024, 'A'));
  },
  'endless-json': ({ response }) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.write('{"choices":[{"message":{"content":"');
    writeForever(response, Buffer.alloc(16 * 1024, 'A'));
  },
  'announced-too-large': ({ response }) => {
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': String(1 << 30) });
    response.write('{"choices":');
  },
};

/** A hostile server that answers each request by its model's entry in ANSWERS. */
export function startScenarioServer(): Promise<HostileServer> {
  return startHostileServer((exchange) => {
    const model = (JSON.parse(exchange.body) as { model: string }).model;
    ANSWERS[model]!(exchange);
  });
}
