/**
 * The seed page's examples (single turn, multi turn, streaming, async/concurrent, function call,
 * custom header, error handling) plus image parts, as data: each one a request, what the mock
 * server must answer, and the plaintext texts that must never reach the wire.
 */
import { mockAnswerText } from '../../src/testing/index.js';

export const SYSTEM = '你是豆包,是由字节跳动开发的 AI 人工智能助手';
export const QUESTION = '常见的十字花科植物有哪些?';

export const SINGLE_TURN = [
  { role: 'system' as const, content: SYSTEM },
  { role: 'user' as const, content: QUESTION },
];

export const MULTI_TURN = [
  { role: 'system' as const, content: SYSTEM },
  { role: 'user' as const, content: '花椰菜是什么?' },
  { role: 'assistant' as const, content: '花椰菜又称菜花、花菜,是一种常见的蔬菜。' },
  { role: 'user' as const, content: '再详细点' },
];

export const WEATHER_TOOLS = [
  {
    type: 'function' as const,
    function: {
      name: 'get_current_weather',
      description: '',
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

export const TOOL_RESULT = '北京天气晴,24~30度';

/** A 1×1 PNG as a data: URL, and the image part that carries it. */
export const PNG_DATA_URL =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

export const IMAGE_MESSAGES = [
  {
    role: 'user' as const,
    content: [
      { type: 'text' as const, text: '这张图片里有什么?' },
      { type: 'image_url' as const, image_url: { url: PNG_DATA_URL } },
    ],
  },
];

export const HTTP_IMAGE_MESSAGES = [
  {
    role: 'user' as const,
    content: [
      { type: 'text' as const, text: '描述这张网络图片' },
      { type: 'image_url' as const, image_url: { url: 'https://example.com/cat.png' } },
    ],
  },
];

export const expectedAnswer = (messages: unknown): string => mockAnswerText(messages);

/** Every text a request's messages carry that the protocol must encrypt. */
export function secretTexts(messages: readonly unknown[]): string[] {
  const texts: string[] = [];
  for (const message of messages as { content?: unknown }[]) {
    if (typeof message.content === 'string' && message.content.length > 0) texts.push(message.content);
    if (Array.isArray(message.content)) {
      for (const part of message.content as Record<string, unknown>[]) {
        if (part.type === 'text' && typeof part.text === 'string') texts.push(part.text);
        const url = (part.image_url as { url?: string } | undefined)?.url;
        if (part.type === 'image_url' && url?.startsWith('data:')) texts.push(url.slice(22, 60));
      }
    }
  }
  return texts;
}
