/** `ark-e2ee chat QUESTION`: one encrypted chat completion, streamed to the terminal. */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parseArgs } from 'node:util';
import { createParser } from 'eventsource-parser';
import { createEncryptedFetch } from '../../transport/encrypted-fetch.js';
import { UsageError, type Command } from '../command.js';
import { ACCESS_KEY_HELP, ACCESS_KEY_NOTE, ACCESS_KEY_OPTIONS, accessKeysOf } from '../access-keys.js';
import { baseUrlOf, CACHE_HELP, CACHE_OPTIONS, cacheDirOf, TRUST_HELP, TRUST_OPTIONS, trustOf } from '../options.js';

const HELP = `Usage: ark-e2ee chat [--model M] [--base-url URL] [--system S] [--image FILE]… [--no-stream] [--json] QUESTION

Sends QUESTION to an Ark model with application-layer encryption on, and prints the decrypted
answer as it arrives. The API key comes from ARK_API_KEY.
${ACCESS_KEY_NOTE}

  --model M        endpoint id or model id (default $ARK_MODEL)
  --base-url URL   Ark base URL (default $ARK_BASE_URL or https://ark.cn-beijing.volces.com/api/v3)
  --system S       a system message
  --image FILE     attach an image (PNG, JPEG, GIF, WebP), sent encrypted as a base64 data: URL;
                   may be given several times
  --no-stream      wait for the whole answer instead of streaming it
  --json           print the decrypted chat completion as JSON (implies --no-stream)
  --aicc           AICC mode (default: VOLC_ARK_ENCRYPTION=AICC)
${CACHE_HELP}
${TRUST_HELP}
${ACCESS_KEY_HELP}

Exit codes: 0 answered; 1 the service or the encryption failed; 2 bad usage.`;

const MIME: Record<string, string> = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif', '.webp': 'image/webp' };

async function imagePart(file: string): Promise<object> {
  const mime = MIME[extname(file).toLowerCase()];
  if (!mime) throw new UsageError(`--image ${file}: use a .png, .jpg, .jpeg, .gif or .webp file`);
  const data = await readFile(file).catch((error: Error) => {
    throw new UsageError(`--image ${file}: ${error.message}`);
  });
  return { type: 'image_url', image_url: { url: `data:${mime};base64,${data.toString('base64')}` } };
}

async function printStream(response: Response, out: NodeJS.WritableStream): Promise<void> {
  const parser = createParser({
    onEvent: (event) => {
      if (event.data === '[DONE]') return;
      const chunk = JSON.parse(event.data) as { choices?: { delta?: { content?: string | null } }[] };
      const text = chunk.choices?.[0]?.delta?.content;
      if (text) out.write(text);
    },
  });
  const decoder = new TextDecoder();
  const reader = response.body!.getReader();
  for (let next = await reader.read(); !next.done; next = await reader.read()) {
    parser.feed(decoder.decode(next.value, { stream: true }));
  }
  out.write('\n');
}

export const chatCommand: Command = {
  name: 'chat',
  summary: 'an encrypted chat with an Ark model, streamed to the terminal',
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        model: { type: 'string' },
        'base-url': { type: 'string' },
        system: { type: 'string' },
        image: { type: 'string', multiple: true, default: [] },
        'no-stream': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        aicc: { type: 'boolean' },
        ...CACHE_OPTIONS,
        ...TRUST_OPTIONS,
        ...ACCESS_KEY_OPTIONS,
      },
    });
    const question = positionals.join(' ');
    if (question === '') throw new UsageError('give the QUESTION to ask');
    const model = values.model ?? io.env.ARK_MODEL;
    if (!model) throw new UsageError('give --model or set ARK_MODEL');
    const accessKeys = accessKeysOf(values, io);
    const apiKey = io.env.ARK_API_KEY;
    if (!apiKey && accessKeys.accessKey === undefined) {
      throw new UsageError('set ARK_API_KEY to your Ark API key, or VOLC_ACCESSKEY and VOLC_SECRETKEY to an access key pair');
    }
    const images = await Promise.all(values.image.map(imagePart));
    const stream = !values['no-stream'] && !values.json;
    const messages = [
      ...(values.system ? [{ role: 'system', content: values.system }] : []),
      { role: 'user', content: images.length > 0 ? [{ type: 'text', text: question }, ...images] : question },
    ];
    const encryptedFetch = createEncryptedFetch({
      cacheDir: cacheDirOf(values),
      ...(await trustOf(values)),
      aicc: values.aicc,
      ...accessKeys,
      errors: 'throw',
      onWarning: (m) => io.stderr.write(`warning: ${m}\n`),
    });
    const response = await encryptedFetch(`${baseUrlOf(values['base-url'], io)}/chat/completions`, {
      method: 'POST',
      headers: { ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}), 'content-type': 'application/json', 'x-is-encrypted': 'true' },
      body: JSON.stringify({ model, messages, stream }),
    });
    if (!response.ok) {
      io.stderr.write(`ark-e2ee chat: the service answered HTTP ${response.status}: ${await response.text()}\n`);
      return 1;
    }
    if (stream) {
      await printStream(response, io.stdout);
      return 0;
    }
    const completion = (await response.json()) as { choices?: { message?: { content?: string | null } }[] };
    io.stdout.write(values.json ? `${JSON.stringify(completion)}\n` : `${completion.choices?.[0]?.message?.content ?? ''}\n`);
    return 0;
  },
};
