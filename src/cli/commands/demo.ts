/**
 * `ark-e2ee demo` (and `npm run demo`): the Ark seed page's scenarios with encryption on, against
 * the embedded mock Ark server (or the real service when ARK_API_KEY and ARK_MODEL are set). For
 * each call it shows what crossed the wire, encrypted and not, beside the decrypted answer.
 */
import { parseArgs } from 'node:util';
import { certificateKeyPin } from '../../certificates/trust.js';
import { startMockArkServer, type MockArkServer } from '../../testing/index.js';
import { createEncryptedFetch } from '../../transport/create-encrypted-fetch.js';
import { UsageError, type Command } from '../command.js';
import { demoClient, type ChatMessage, type DemoClient } from '../demo/client.js';
import { contentsEncrypted, painter, showWire, wireRecorder, type Exchange, type Paint } from '../demo/wire.js';
import { DEFAULT_BASE_URL } from '../options.js';

const HELP = `Usage: ark-e2ee demo [--client openai|fetch]

Runs the Ark seed page's scenarios with encryption on: single turn, multi turn, streaming,
concurrent calls, a function call round trip, a custom request id, a base64 image, error
handling, and (against the mock) access keys instead of an API key. For each it shows what crossed the wire (ciphertext, and what the protocol leaves in
plain text) beside the decrypted answer.

  --client C   openai (default when the openai package is installed) or fetch (plain fetch,
               default otherwise); both run over createEncryptedFetch()

Against an embedded mock Ark server on loopback, unless ARK_API_KEY and ARK_MODEL are both set:
then against the service at ARK_BASE_URL (default ${DEFAULT_BASE_URL}).
Colors on a terminal unless NO_COLOR is set.

Exit codes: 0 every scenario ran and no message content crossed in plain text; 1 otherwise.`;

const SYSTEM = '你是豆包,是由字节跳动开发的 AI 人工智能助手';
const QUESTION = '常见的十字花科植物有哪些?';
const PNG = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
const TOOL_QUESTION = '北京今天的天气';
const TOOL_RESULT = '北京天气晴,24~30度';
const CONCURRENT = ['白菜', '萝卜', '芥菜', '甘蓝', '花椰菜'].map((name) => `${name}属于十字花科吗?`);
/** Every message text the demo sends: none may cross the wire in plain text. */
const SECRETS = [SYSTEM, QUESTION, '花椰菜是什么?', '再详细点', TOOL_QUESTION, TOOL_RESULT, '这张图片里有什么?', PNG.slice(22), ...CONCURRENT];
const WEATHER_TOOLS = [{
  type: 'function',
  function: { name: 'get_current_weather', description: '', parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] } },
}];
const ENCRYPTED = { 'x-is-encrypted': 'true' };

interface Demo {
  client: DemoClient;
  model: string;
  real: boolean;
  paint: Paint;
  out: NodeJS.WritableStream;
  exchanges: Exchange[];
  /** The CLI's environment (`io.env`), which the library reads its defaults from. */
  env: Readonly<Record<string, string | undefined>>;
}

const decrypted = (d: Demo, text: unknown): string => `   ${d.paint.green('✓ decrypted')} ${String(text)}`;

async function scenario(d: Demo, title: string, run: () => Promise<void>): Promise<void> {
  d.out.write(`\n${d.paint.bold(title)}\n`);
  const from = d.exchanges.length;
  const started = performance.now();
  await run();
  await showWire(d.exchanges, from, d.paint, d.out);
  d.out.write(`${d.paint.dim(`   ${(performance.now() - started).toFixed(0)} ms`)}\n`);
}

async function functionCall(d: Demo): Promise<void> {
  const say = (text: string): void => void d.out.write(`${text}\n`);
  const model = d.real ? d.model : 'mock-tools';
  const messages: ChatMessage[] = [{ role: 'user', content: TOOL_QUESTION }];
  const first = await d.client.create({ model, messages, tools: WEATHER_TOOLS }, ENCRYPTED);
  const choice = first.data.choices[0];
  const call = choice?.message.tool_calls?.[0];
  if (call === undefined) {
    say(`   the model made no tool call this time (finish_reason: ${choice?.finish_reason ?? 'none'}); its answer:`);
    say(decrypted(d, choice?.message.content ?? ''));
    return;
  }
  // Tool calls are not message contents: the protocol leaves them in plain text, both ways.
  say(`   ${d.paint.yellow('tool call, in plain text on the wire (not encrypted):')} ${call.function.name}(${call.function.arguments})`);
  messages.push(choice!.message, { role: 'tool', tool_call_id: call.id, content: TOOL_RESULT });
  const second = await d.client.create({ model, messages, tools: WEATHER_TOOLS }, ENCRYPTED);
  say(`   the tool result went up encrypted (a message content); the call's arguments went back up in plain text`);
  say(decrypted(d, second.data.choices[0]?.message.content));
}

async function errorHandling(d: Demo): Promise<void> {
  const say = (text: string): void => void d.out.write(`${text}\n`);
  const describe = (error: unknown): string => {
    const e = error as { constructor: { name: string }; status?: number; code?: string };
    return `${e.constructor.name}${e.status ? ` ${e.status}` : ''}${e.code ? ` ${e.code}` : ''}`;
  };
  try {
    await d.client.create({ model: d.real ? d.model : 'mock-429', messages: [{ role: 'user', content: QUESTION }] }, ENCRYPTED);
    say('   the service answered without an error this time (nothing to show for a service error)');
  } catch (error) {
    say(`   ${d.paint.yellow('✓ the service error reaches the client as')} ${describe(error)}`);
  }
  try {
    await d.client.create({ model: d.model, messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] }] }, ENCRYPTED);
    say('   the audio part was not refused (unexpected)');
    process.exitCode = 1;
  } catch (error) {
    say(`   ${d.paint.yellow('✓ refused before sending (nothing sent):')} ${describe(error)}`);
  }
}

async function scenarios(d: Demo): Promise<void> {
  const { client, model } = d;
  const say = (text: string): void => void d.out.write(`${text}\n`);
  await scenario(d, '1. Single turn', async () => {
    const c = await client.create({ model, messages: [{ role: 'system', content: SYSTEM }, { role: 'user', content: QUESTION }] }, ENCRYPTED);
    say(decrypted(d, c.data.choices[0]?.message.content));
  });
  await scenario(d, '2. Multi turn', async () => {
    const messages = [
      { role: 'system', content: SYSTEM },
      { role: 'user', content: '花椰菜是什么?' },
      { role: 'assistant', content: '花椰菜又称菜花、花菜,是一种常见的蔬菜。' },
      { role: 'user', content: '再详细点' },
    ];
    say(decrypted(d, (await client.create({ model, messages }, ENCRYPTED)).data.choices[0]?.message.content));
  });
  await scenario(d, '3. Streaming (printed as it arrives)', async () => {
    d.out.write(`   ${d.paint.green('✓ decrypted')} `);
    for await (const text of client.stream({ model, messages: [{ role: 'user', content: QUESTION }] }, ENCRYPTED)) d.out.write(text);
    d.out.write('\n');
  });
  await scenario(d, '4. Concurrent calls (the async example): 5 at once, 5 sessions', async () => {
    const answers = await Promise.all(CONCURRENT.map((q) => client.create({ model, messages: [{ role: 'user', content: q }] }, ENCRYPTED)));
    for (const a of answers) say(decrypted(d, a.data.choices[0]?.message.content));
  });
  await scenario(d, '5. Function call round trip', () => functionCall(d));
  await scenario(d, '6. Custom X-Client-Request-Id header', async () => {
    const id = '202406251728190000B7EA7A9648AC08D9';
    const c = await client.create({ model, messages: [{ role: 'user', content: QUESTION }] }, { ...ENCRYPTED, 'X-Client-Request-Id': id });
    say(`${decrypted(d, c.data.choices[0]?.message.content)}  ${d.paint.dim(`(request id ${c.headers.get('x-client-request-id') ?? id})`)}`);
  });
  await scenario(d, '7. A base64 image (encrypted whole, data: URL included)', async () => {
    const content = [{ type: 'text', text: '这张图片里有什么?' }, { type: 'image_url', image_url: { url: PNG } }];
    say(decrypted(d, (await client.create({ model, messages: [{ role: 'user', content }] }, ENCRYPTED)).data.choices[0]?.message.content));
  });
  await scenario(d, '8. Error handling', () => errorHandling(d));
}

/** The mock's access-key pair; only its access key id crosses the wire, in the signature. */
const DEMO_ACCESS_KEYS = { accessKey: 'AKLTdemo', secretKey: 'demo-secret' };

/** Access keys instead of an API key: signed OpenAPI calls give a short-lived key and the certificate. */
async function accessKeys(d: Demo, server: MockArkServer, fetchOnWire: typeof fetch, choice: 'openai' | 'fetch' | undefined): Promise<void> {
  await scenario(d, '9. Access keys instead of an API key (signed OpenAPI calls for the key and the certificate)', async () => {
    const encryptedFetch = createEncryptedFetch({ env: d.env, fetch: fetchOnWire, cacheDir: false, ...DEMO_ACCESS_KEYS, openApiUrl: server.openApiUrl });
    const client = await demoClient(server.url, null, encryptedFetch, choice);
    const c = await client.create({ model: 'ep-20260101-demo', messages: [{ role: 'user', content: QUESTION }] }, ENCRYPTED);
    d.out.write(`${decrypted(d, c.data.choices[0]?.message.content)}\n`);
  });
}

/** The closing lines: what the wire carried, counted from what was recorded on it. */
function wireCheck(d: Demo, server: MockArkServer | undefined): boolean {
  const chats = d.exchanges.filter((e) => e.url.endsWith('/chat/completions'));
  const leaked = chats.filter((e) => !contentsEncrypted(e, SECRETS)).length;
  const reached = server ? `${server.requests.length} requests reached the server, ` : '';
  d.out.write(`\n${d.paint.bold(`wire check: ${reached}${chats.length} chat requests sent, ${leaked} with a message content in plain text.`)}\n`);
  d.out.write(
    `Encrypted: every message content (system, user, assistant and tool texts, the base64 image) and every answer content.\n` +
      `Not encrypted, by the protocol: tool definitions, tool-call names and arguments (both ways), the model name, roles and other request fields, http(s) image URLs.\n`,
  );
  return leaked === 0;
}

export const demoCommand: Command = {
  name: 'demo',
  summary: "the Ark seed page's scenarios with encryption on, showing what crossed the wire",
  help: HELP,
  async run(args, io) {
    const { values } = parseArgs({ args, options: { client: { type: 'string' } } });
    if (values.client !== undefined && values.client !== 'openai' && values.client !== 'fetch') {
      throw new UsageError(`--client must be openai or fetch, not "${values.client}"`);
    }
    const paint = painter(Boolean((io.stdout as { isTTY?: boolean }).isTTY) && !io.env.NO_COLOR);
    const real = Boolean(io.env.ARK_API_KEY && io.env.ARK_MODEL);
    const server = real ? undefined : await startMockArkServer({ apiKey: 'demo-key', openApi: DEMO_ACCESS_KEYS });
    try {
      const baseURL = server ? server.url : (io.env.ARK_BASE_URL ?? DEFAULT_BASE_URL).replace(/\/+$/, '');
      const { exchanges, fetchOnWire } = wireRecorder();
      const warnings: string[] = [];
      const encryptedFetch = createEncryptedFetch({ env: io.env, fetch: fetchOnWire, cacheDir: false, onWarning: (m) => warnings.push(m) });
      const client = await demoClient(baseURL, real ? io.env.ARK_API_KEY! : 'demo-key', encryptedFetch, values.client);
      const d: Demo = { client, model: real ? io.env.ARK_MODEL! : 'mock-pieces', real, paint, out: io.stdout, exchanges, env: io.env };
      io.stdout.write(`${paint.bold(`ark-e2ee demo against ${real ? 'the Ark service' : 'the embedded mock Ark server'}: ${baseURL}`)}\n`);
      io.stdout.write(`${paint.dim(`client: ${client.name === 'openai' ? 'the openai package' : 'plain fetch'}, over createEncryptedFetch()`)}\n`);
      if (server) io.stdout.write(`${paint.dim(`mock certificate key pin ${await certificateKeyPin(server.certificatePem)} (the value --pin and pinnedKeys take)`)}\n`);
      await scenarios(d);
      if (server) await accessKeys(d, server, fetchOnWire, values.client);
      if (warnings.length > 0) io.stdout.write(`${paint.dim(`\nwarnings: ${warnings.join('; ')}`)}\n`);
      const clean = wireCheck(d, server);
      return clean && process.exitCode !== 1 ? 0 : 1;
    } finally {
      await server?.close();
    }
  },
};
