// Multi turn: the whole conversation (every earlier turn too) is encrypted on each call.
import OpenAI from 'openai';
import { createEncryptedFetch } from 'ark-e2ee';

const client = new OpenAI({
  baseURL: process.env.ARK_BASE_URL ?? 'https://ark.cn-beijing.volces.com/api/v3',
  apiKey: process.env.ARK_API_KEY,
  fetch: createEncryptedFetch(),
});

const completion = await client.chat.completions.create(
  {
    model: process.env.ARK_MODEL ?? 'doubao-seed-1-6-250615',
    messages: [
      { role: 'system', content: '你是豆包,是由字节跳动开发的 AI 人工智能助手' },
      { role: 'user', content: '花椰菜是什么?' },
      { role: 'assistant', content: '花椰菜又称菜花、花菜,是一种常见的蔬菜。' },
      { role: 'user', content: '再详细点' },
    ],
  },
  { headers: { 'x-is-encrypted': 'true' } },
);
console.log(completion.choices[0].message.content);
