// Single turn: one encrypted question, one decrypted answer, with the `openai` package.
import OpenAI from 'openai';
import { createEncryptedFetch } from 'ark-e2ee';

const client = new OpenAI({
  baseURL: process.env.ARK_BASE_URL ?? 'https://ark.cn-beijing.volces.com/api/v3',
  apiKey: process.env.ARK_API_KEY,
  // Encrypts every chat completion that carries `x-is-encrypted: true`, decrypts its answer.
  fetch: createEncryptedFetch(),
});

const completion = await client.chat.completions.create(
  {
    model: process.env.ARK_MODEL ?? 'doubao-seed-1-6-250615',
    messages: [
      { role: 'system', content: '你是豆包,是由字节跳动开发的 AI 人工智能助手' },
      { role: 'user', content: '常见的十字花科植物有哪些?' },
    ],
  },
  { headers: { 'x-is-encrypted': 'true' } }, // turn encryption on for this call
);
console.log(completion.choices[0].message.content);
