// undici: the `arkEncryption()` interceptor on a dispatcher; every request through it that
// carries `x-is-encrypted: true` is encrypted. With undici's request, then undici's fetch.
import { TextDecoderStream } from 'node:stream/web';
import { Agent, fetch, request } from 'undici';
import { arkEncryption } from 'ark-e2ee';

const baseURL = process.env.ARK_BASE_URL ?? 'https://ark.cn-beijing.volces.com/api/v3';
const model = process.env.ARK_MODEL ?? 'doubao-seed-1-6-250615';
const dispatcher = new Agent().compose(arkEncryption());
const headers = {
  authorization: `Bearer ${process.env.ARK_API_KEY}`,
  'content-type': 'application/json',
  'x-is-encrypted': 'true',
};
const system = { role: 'system', content: '你是豆包,是由字节跳动开发的 AI 人工智能助手' };

// undici.request: the answer's body is already decrypted JSON.
const { statusCode, body } = await request(`${baseURL}/chat/completions`, {
  dispatcher,
  method: 'POST',
  headers,
  body: JSON.stringify({ model, messages: [system, { role: 'user', content: '常见的十字花科植物有哪些?' }] }),
});
const completion = await body.json();
if (statusCode !== 200) throw new Error(`HTTP ${statusCode}: ${JSON.stringify(completion)}`);
console.log(completion.choices[0].message.content);

// undici.fetch, streamed: the server-sent events arrive decrypted.
const response = await fetch(`${baseURL}/chat/completions`, {
  dispatcher,
  method: 'POST',
  headers,
  body: JSON.stringify({ model, messages: [system, { role: 'user', content: '花椰菜是什么?' }], stream: true }),
});
if (!response.ok) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
let buffered = '';
for await (const text of response.body.pipeThrough(new TextDecoderStream())) {
  buffered += text;
  const lines = buffered.split('\n');
  buffered = lines.pop();
  for (const line of lines) {
    if (!line.startsWith('data:') || line.trim() === 'data: [DONE]') continue;
    const chunk = JSON.parse(line.slice(5));
    process.stdout.write(chunk.choices[0]?.delta?.content ?? '');
  }
}
process.stdout.write('\n');
await dispatcher.close();
