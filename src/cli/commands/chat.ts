/** `ark-e2ee chat QUESTION`: one encrypted chat completion, streamed to the terminal. */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { createEncryptedFetch } from '../../transport/create-encrypted-fetch.js';
import { printCompletion, printStream } from '../chat-output.js';
import { UsageError, type Command } from '../command.js';
import { ACCESS_KEY_HELP, ACCESS_KEY_NOTE, ACCESS_KEY_OPTIONS, accessKeysOf } from '../access-keys.js';
import { baseUrlOf, CACHE_HELP, CACHE_OPTIONS, cacheDirOf, TRUST_HELP, TRUST_OPTIONS, trustOf } from '../options.js';

const HELP = `Usage: ark-e2ee chat [--model M] [--base-url URL] [--system S] [--image FILE]… [--no-stream] [--json]
                     [--no-reasoning] QUESTION

Sends QUESTION to an Ark model with application-layer encryption on, and prints the decrypted
answer as it arrives: the model's reasoning first (dimmed on a terminal, marked [reasoning]
otherwise), then the answer; several choices each under a [choice N] label, and a
finish_reason other than "stop" named after its choice. The API key comes from ARK_API_KEY.
${ACCESS_KEY_NOTE}

  --model M        endpoint id or model id (default $ARK_MODEL)
  --base-url URL   Ark base URL (default $ARK_BASE_URL or https://ark.cn-beijing.volces.com/api/v3)
  --system S       a system message
  --image FILE     attach an image (PNG, JPEG, GIF, WebP, told by its content, not its name),
                   sent encrypted as a base64 data: URL; may be given several times
  --no-stream      wait for the whole answer instead of streaming it
  --json           print the decrypted chat completion as JSON (implies --no-stream)
  --no-reasoning   do not print the model's reasoning
  --aicc           AICC mode (default: VOLC_ARK_ENCRYPTION=AICC)
${CACHE_HELP}
${TRUST_HELP}
${ACCESS_KEY_HELP}

Exit codes: 0 answered; 1 the service or the encryption failed; 2 bad usage.`;

/** The image type by its first bytes (magic numbers), whatever the file is called. */
export function sniffImageType(bytes: Uint8Array): string | undefined {
  const starts = (...values: number[]): boolean => values.every((value, i) => bytes[i] === value);
  const ascii = (offset: number, text: string): boolean =>
    [...text].every((char, i) => bytes[offset + i] === char.charCodeAt(0));
  if (starts(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'image/png';
  if (starts(0xff, 0xd8, 0xff)) return 'image/jpeg';
  if (ascii(0, 'GIF87a') || ascii(0, 'GIF89a')) return 'image/gif';
  if (ascii(0, 'RIFF') && ascii(8, 'WEBP')) return 'image/webp';
  return undefined;
}

async function imagePart(file: string): Promise<object> {
  const data = await readFile(file).catch((error: Error) => {
    throw new UsageError(`--image ${file}: ${error.message}`);
  });
  const mime = sniffImageType(data);
  if (!mime) throw new UsageError(`--image ${file}: not a PNG, JPEG, GIF or WebP image (judged by its content)`);
  return { type: 'image_url', image_url: { url: `data:${mime};base64,${data.toString('base64')}` } };
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
        'no-reasoning': { type: 'boolean', default: false },
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
      env: io.env,
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
    const output = {
      out: io.stdout,
      color: Boolean((io.stdout as { isTTY?: boolean }).isTTY) && !io.env.NO_COLOR,
      reasoning: !values['no-reasoning'],
    };
    if (stream) {
      await printStream(response, output);
      return 0;
    }
    const completion = (await response.json()) as Parameters<typeof printCompletion>[0];
    if (values.json) io.stdout.write(`${JSON.stringify(completion)}\n`);
    else printCompletion(completion, output);
    return 0;
  },
};
