// Streaming: every chunk's delta is decrypted as it arrives.
import OpenAI from 'openai';
import { createEncryptedFetch } from 'ark-e2ee';

const client = new OpenAI({
  baseURL: process.env.ARK_BASE_URL ?? 'https://ark.cn-beijing.volces.com/api/v3',
  apiKey: process.env.ARK_API_KEY,
  fetch: createEncryptedFetch(),
});

const stream = await client.chat.completions.create(
  {
    model: process.env.ARK_MODEL ?? 'doubao-seed-1-6-250615',
    messages: [
      { role: 'system', content: '你是豆包,是由字节跳动开发的 AI 人工智能助手' },
      { role: 'user', content: '常见的十字花科植物有哪些?' },
    ],
    stream: true,
  },
  { headers: { 'x-is-encrypted': 'true' } },
);
for await (const chunk of stream) {
  // The last chunk may carry no choices (usage only).
  process.stdout.write(chunk.choices[0]?.delta?.content ?? '');
}
process.stdout.write('\n');
