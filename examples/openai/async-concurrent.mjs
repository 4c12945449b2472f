// Concurrent calls: several streamed questions at once; each call has its own session key.
import OpenAI from 'openai';
import { createEncryptedFetch } from 'ark-e2ee';

const client = new OpenAI({
  baseURL: process.env.ARK_BASE_URL ?? 'https://ark.cn-beijing.volces.com/api/v3',
  apiKey: process.env.ARK_API_KEY,
  fetch: createEncryptedFetch(), // one fetch for all calls: the certificate is fetched once
});
const model = process.env.ARK_MODEL ?? 'doubao-seed-1-6-250615';

async function ask(question) {
  const stream = await client.chat.completions.create(
    {
      model,
      messages: [
        { role: 'system', content: '你是豆包,是由字节跳动开发的 AI 人工智能助手' },
        { role: 'user', content: question },
      ],
      stream: true,
    },
    { headers: { 'x-is-encrypted': 'true' } },
  );
  let answer = '';
  for await (const chunk of stream) answer += chunk.choices[0]?.delta?.content ?? '';
  return answer;
}

const questions = ['常见的十字花科植物有哪些?', '花椰菜是什么?', '西兰花怎么做好吃?'];
const answers = await Promise.all(questions.map(ask));
for (const [i, answer] of answers.entries()) console.log(`${questions[i]}\n${answer}\n`);
