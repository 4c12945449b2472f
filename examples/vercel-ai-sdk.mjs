// The Vercel AI SDK: an OpenAI-compatible provider whose fetch encrypts; the header on the
// provider turns encryption on for every call. generateText, then streamText.
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { generateText, streamText } from 'ai';
import { createEncryptedFetch } from 'ark-e2ee';

const ark = createOpenAICompatible({
  name: 'ark',
  baseURL: process.env.ARK_BASE_URL ?? 'https://ark.cn-beijing.volces.com/api/v3',
  apiKey: process.env.ARK_API_KEY,
  fetch: createEncryptedFetch(),
  headers: { 'x-is-encrypted': 'true' },
});
const model = ark(process.env.ARK_MODEL ?? 'doubao-seed-1-6-250615');
const system = '你是豆包,是由字节跳动开发的 AI 人工智能助手';

const { text } = await generateText({ model, system, prompt: '常见的十字花科植物有哪些?' });
console.log(text);

const result = streamText({ model, system, prompt: '花椰菜是什么?' });
for await (const delta of result.textStream) process.stdout.write(delta);
process.stdout.write('\n');
