// LangChain: ChatOpenAI passes `configuration` to its openai client, so the same encrypting
// fetch and header work there. invoke, then stream.
import { ChatOpenAI } from '@langchain/openai';
import { createEncryptedFetch } from 'ark-e2ee';

const chat = new ChatOpenAI({
  model: process.env.ARK_MODEL ?? 'doubao-seed-1-6-250615',
  apiKey: process.env.ARK_API_KEY,
  configuration: {
    baseURL: process.env.ARK_BASE_URL ?? 'https://ark.cn-beijing.volces.com/api/v3',
    fetch: createEncryptedFetch(),
    defaultHeaders: { 'x-is-encrypted': 'true' },
  },
});
const system = ['system', '你是豆包,是由字节跳动开发的 AI 人工智能助手'];

const answer = await chat.invoke([system, ['human', '常见的十字花科植物有哪些?']]);
console.log(answer.content);

for await (const chunk of await chat.stream([system, ['human', '花椰菜是什么?']])) {
  process.stdout.write(chunk.content);
}
process.stdout.write('\n');
