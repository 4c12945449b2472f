// Custom headers: X-Client-Request-Id (your own id for this call) travels beside the
// encryption headers; `.withResponse()` also gives the answer's headers.
import { randomBytes } from 'node:crypto';
import OpenAI from 'openai';
import { createEncryptedFetch } from 'ark-e2ee';

const client = new OpenAI({
  baseURL: process.env.ARK_BASE_URL ?? 'https://ark.cn-beijing.volces.com/api/v3',
  apiKey: process.env.ARK_API_KEY,
  fetch: createEncryptedFetch(),
});

// e.g. 202406251728190000B7EA7A9648AC08D9: a timestamp and random hex.
const clientRequestId =
  new Date().toISOString().replace(/\D/g, '').slice(0, 14) + randomBytes(10).toString('hex').toUpperCase();

const { data: completion, response } = await client.chat.completions
  .create(
    {
      model: process.env.ARK_MODEL ?? 'doubao-seed-1-6-250615',
      messages: [
        { role: 'system', content: '你是豆包,是由字节跳动开发的 AI 人工智能助手' },
        { role: 'user', content: '常见的十字花科植物有哪些?' },
      ],
    },
    { headers: { 'x-is-encrypted': 'true', 'X-Client-Request-Id': clientRequestId } },
  )
  .withResponse();
console.log(`X-Client-Request-Id: ${clientRequestId}`);
console.log(`x-request-id: ${response.headers.get('x-request-id')}`);
console.log(completion.choices[0].message.content);
