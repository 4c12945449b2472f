// Function calling, a full round trip: the model asks for a tool, we run it, and send the
// result back. Messages (the tool result included) are encrypted; the tool call's name and
// arguments come back as the service sends them.
import OpenAI from 'openai';
import { createEncryptedFetch } from 'ark-e2ee';

const client = new OpenAI({
  baseURL: process.env.ARK_BASE_URL ?? 'https://ark.cn-beijing.volces.com/api/v3',
  apiKey: process.env.ARK_API_KEY,
  fetch: createEncryptedFetch(),
});
const model = process.env.ARK_MODEL ?? 'doubao-seed-1-6-250615';
const encrypted = { headers: { 'x-is-encrypted': 'true' } };

const tools = [
  {
    type: 'function',
    function: {
      name: 'get_current_weather',
      description: '获取指定地点的天气',
      parameters: {
        type: 'object',
        properties: {
          location: { type: 'string', description: '地理位置,比如北京市' },
          unit: { type: 'string', description: '枚举值 [摄氏度,华氏度]' },
        },
        required: ['location'],
      },
    },
  },
];

// Our local "tool".
function getCurrentWeather({ location }) {
  return `${location}天气晴,24~30度`;
}

const messages = [
  { role: 'system', content: '你是豆包,是由字节跳动开发的 AI 人工智能助手' },
  { role: 'user', content: '北京今天的天气' },
];

const first = await client.chat.completions.create({ model, messages, tools }, encrypted);
const reply = first.choices[0].message;
messages.push(reply);
for (const call of reply.tool_calls ?? []) {
  console.log(`tool call: ${call.function.name}(${call.function.arguments})`);
  const result = getCurrentWeather(JSON.parse(call.function.arguments));
  messages.push({ role: 'tool', tool_call_id: call.id, content: result });
}

const second = await client.chat.completions.create({ model, messages, tools }, encrypted);
console.log(second.choices[0].message.content);
