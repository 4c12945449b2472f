// An image as a base64 data: URL: the image is encrypted like the text.
// (An http(s) image URL cannot be encrypted: it is sent as it is, with a warning.)
//   node image-base64.mjs [picture.png|.jpg|.jpeg|.webp]   (default: a 1×1 PNG)
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import OpenAI from 'openai';
import { createEncryptedFetch } from 'ark-e2ee';

const client = new OpenAI({
  baseURL: process.env.ARK_BASE_URL ?? 'https://ark.cn-beijing.volces.com/api/v3',
  apiKey: process.env.ARK_API_KEY,
  fetch: createEncryptedFetch(),
});

const file = process.argv[2];
const types = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp' };
const type = file ? types[extname(file).toLowerCase()] ?? 'image/png' : 'image/png';
const base64 = file
  ? (await readFile(file)).toString('base64')
  : 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

const completion = await client.chat.completions.create(
  {
    model: process.env.ARK_MODEL ?? 'doubao-seed-1-6-250615', // a model that sees images
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: '这张图片里有什么?' },
          { type: 'image_url', image_url: { url: `data:${type};base64,${base64}` } },
        ],
      },
    ],
  },
  { headers: { 'x-is-encrypted': 'true' } },
);
console.log(completion.choices[0].message.content);
