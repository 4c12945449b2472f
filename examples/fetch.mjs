// Plain fetch: createEncryptedFetch() has fetch's signature; calls with `x-is-encrypted: true`
// are encrypted and their answers decrypted, anything else passes through. Whole, then streamed.
import { TextDecoderStream } from 'node:stream/web';
import { createEncryptedFetch } from 'ark-e2ee';

const encryptedFetch = createEncryptedFetch();
const url = `${process.env.ARK_BASE_URL ?? 'https://ark.cn-beijing.volces.com/api/v3'}/chat/completions`;
const model = process.env.ARK_MODEL ?? 'doubao-seed-1-6-250615';
const headers = {
  authorization: `Bearer ${process.env.ARK_API_KEY}`,
  'content-type': 'application/json',
  'x-is-encrypted': 'true',
};
const system = { role: 'system', content: '你是豆包,是由字节跳动开发的 AI 人工智能助手' };

// The whole answer, as decrypted JSON.
const response = await encryptedFetch(url, {
  method: 'POST',
  headers,
  body: JSON.stringify({ model, messages: [system, { role: 'user', content: '常见的十字花科植物有哪些?' }] }),
});
if (!response.ok) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
const completion = await response.json();
console.log(completion.choices[0].message.content);

// Streamed: server-sent events whose deltas arrive decrypted.
const stream = await encryptedFetch(url, {
  method: 'POST',
  headers,
  body: JSON.stringify({ model, messages: [system, { role: 'user', content: '花椰菜是什么?' }], stream: true }),
});
if (!stream.ok) throw new Error(`HTTP ${stream.status}: ${await stream.text()}`);
let buffered = '';
for await (const text of stream.body.pipeThrough(new TextDecoderStream())) {
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
