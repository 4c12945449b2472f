#!/usr/bin/env node
/**
 * npm run demo: the Ark seed page's scenarios through the real `openai` client with encryption
 * on, against the embedded mock Ark server (or the real service when ARK_API_KEY and ARK_MODEL
 * are set). For each call it shows what crossed the wire (shortened ciphertext) beside the
 * decrypted answer, and the handshake: certificate fingerprint and session token.
 */
import OpenAI from 'openai';
import { ArkE2EEError, certificateKeyPin, createEncryptedFetch, parseCertificate } from 'ark-e2ee';
import { startMockArkServer } from 'ark-e2ee/testing';

const color = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code) => (text) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
const bold = paint('1');
const dim = paint('2');
const green = paint('32');
const cyan = paint('36');
const yellow = paint('33');

const SYSTEM = '你是豆包,是由字节跳动开发的 AI 人工智能助手';
const QUESTION = '常见的十字花科植物有哪些?';
const PNG = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

const short = (text, keep = 44) => (text.length > keep ? `${text.slice(0, keep)}…(${text.length} chars)` : text);

/** The fetch under the encryption: it sees exactly what goes over the wire, both ways. */
function wireRecorder() {
  const exchanges = [];
  const fetchOnWire = async (url, init) => {
    const exchange = { url: String(url), headers: new Headers(init?.headers), body: typeof init?.body === 'string' ? init.body : '' };
    exchanges.push(exchange);
    const response = await fetch(url, init);
    if (response.body) {
      const [mine, theirs] = response.body.tee();
      exchange.answer = new Response(mine).text();
      return new Response(theirs, { status: response.status, statusText: response.statusText, headers: response.headers });
    }
    return response;
  };
  return { exchanges, fetchOnWire };
}

/** The certificate and its key pin as hex: the same value `ark-e2ee cert` and `serve` print. */
async function fingerprint(pem) {
  const cert = parseCertificate(pem);
  const pin = await certificateKeyPin(pem);
  return { cert, sha256: Buffer.from(pin, 'base64').toString('hex').match(/../g).join(':') };
}

/** Prints the wire view of the chat exchanges since `from`. */
async function showWire(exchanges, from) {
  for (const exchange of exchanges.slice(from)) {
    const action = /[?&]Action=(\w+)/.exec(exchange.url)?.[1];
    if (action) {
      const signature = exchange.headers.get('authorization')?.replace(/Signature=\w+/, 'Signature=…');
      console.log(dim(`   OpenAPI ${action}, ${signature}`));
      const result = JSON.parse(await exchange.answer).Result ?? {};
      if (result.ExpiredTime) console.log(dim(`   → a short-lived API key for the endpoint, valid to ${new Date(result.ExpiredTime * 1000).toISOString().slice(0, 10)}`));
      if (result.PCAInstanceCertificate) {
        const { sha256 } = await fingerprint(result.PCAInstanceCertificate);
        console.log(dim(`   → the model certificate, key SHA-256 ${sha256.slice(0, 23)}…, with its sub-CA and root (chain checked)`));
      }
      continue;
    }
    if (exchange.url.endsWith('/e2e/get/certificate')) {
      const text = await exchange.answer;
      try {
        const { cert, sha256 } = await fingerprint(JSON.parse(text).Certificate);
        console.log(dim(`   handshake: fetched the model certificate, key SHA-256 ${sha256.slice(0, 23)}…, valid to ${cert.notAfter.toISOString().slice(0, 10)}`));
      } catch {
        console.log(dim(`   certificate endpoint answered: ${short(text, 80)}`));
      }
      continue;
    }
    const token = exchange.headers.get('x-session-token');
    if (token) console.log(dim(`   session token (ephemeral P-256 key): ${short(token, 24)}`));
    try {
      const sent = JSON.parse(exchange.body);
      for (const message of sent.messages ?? []) {
        const content = typeof message.content === 'string' ? message.content : JSON.stringify(message.content);
        console.log(`   ${cyan('→ wire')} ${message.role.padEnd(9)} ${short(content ?? 'null')}`);
      }
    } catch {
      /* not a JSON body */
    }
    const answer = await exchange.answer;
    if (answer !== undefined) {
      const wireContent = answer.startsWith('data:') || answer.includes('\ndata:')
        ? answer.split('\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6)).choices?.[0]?.delta?.content ?? '').filter(Boolean)
        : [JSON.parse(answer).choices?.[0]?.message?.content ?? JSON.stringify(JSON.parse(answer).error ?? null)];
      const first = wireContent[0] ?? '';
      const more = wireContent.length > 1 ? ` (+${wireContent.length - 1} more encrypted chunks)` : '';
      console.log(`   ${cyan('← wire')} ${short(String(first))}${more}`);
    }
  }
}

async function scenario(title, exchanges, run) {
  console.log(`\n${bold(title)}`);
  const from = exchanges.length;
  const started = performance.now();
  await run();
  await showWire(exchanges, from);
  console.log(dim(`   ${(performance.now() - started).toFixed(0)} ms`));
}

const plain = (text) => `   ${green('✓ decrypted')} ${text}`;

async function main() {
  const real = Boolean(process.env.ARK_API_KEY && process.env.ARK_MODEL);
  const accessKeys = { accessKey: 'AKLTdemo', secretKey: 'demo-secret' };
  const server = real ? undefined : await startMockArkServer({ apiKey: 'demo-key', openApi: accessKeys });
  const baseURL = real ? (process.env.ARK_BASE_URL ?? 'https://ark.cn-beijing.volces.com/api/v3') : server.url;
  const model = real ? process.env.ARK_MODEL : 'mock-pieces';
  const { exchanges, fetchOnWire } = wireRecorder();
  const warnings = [];
  const client = new OpenAI({
    apiKey: real ? process.env.ARK_API_KEY : 'demo-key',
    baseURL,
    maxRetries: 0,
    fetch: createEncryptedFetch({ fetch: fetchOnWire, cacheDir: false, onWarning: (m) => warnings.push(m) }),
  });
  const encrypted = { headers: { 'x-is-encrypted': 'true' } };
  console.log(bold(`ark-e2ee demo against ${real ? 'the Ark service' : 'the embedded mock Ark server'}: ${baseURL}`));
  if (server) console.log(dim(`mock certificate key SHA-256 ${(await fingerprint(server.certificatePem)).sha256}`));

  try {
    await scenario('1. Single turn', exchanges, async () => {
      const c = await client.chat.completions.create({ model, messages: [{ role: 'system', content: SYSTEM }, { role: 'user', content: QUESTION }] }, encrypted);
      console.log(plain(c.choices[0].message.content));
    });

    await scenario('2. Multi turn', exchanges, async () => {
      const messages = [
        { role: 'system', content: SYSTEM },
        { role: 'user', content: '花椰菜是什么?' },
        { role: 'assistant', content: '花椰菜又称菜花、花菜,是一种常见的蔬菜。' },
        { role: 'user', content: '再详细点' },
      ];
      const c = await client.chat.completions.create({ model, messages }, encrypted);
      console.log(plain(c.choices[0].message.content));
    });

    await scenario('3. Streaming (printed as it arrives)', exchanges, async () => {
      const stream = await client.chat.completions.create({ model, messages: [{ role: 'user', content: QUESTION }], stream: true }, encrypted);
      process.stdout.write(`   ${green('✓ decrypted')} `);
      for await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta?.content ?? '');
      process.stdout.write('\n');
    });

    await scenario('4. Concurrent calls (the async example): 5 at once, 5 sessions', exchanges, async () => {
      const answers = await Promise.all(
        ['白菜', '萝卜', '芥菜', '甘蓝', '花椰菜'].map((name) =>
          client.chat.completions.create({ model, messages: [{ role: 'user', content: `${name}属于十字花科吗?` }] }, encrypted),
        ),
      );
      for (const a of answers) console.log(plain(a.choices[0].message.content));
    });

    await scenario('5. Function call round trip', exchanges, async () => {
      const tools = [{ type: 'function', function: { name: 'get_current_weather', description: '', parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] } } }];
      const messages = [{ role: 'user', content: '北京今天的天气' }];
      const fcModel = real ? model : 'mock-tools';
      const first = await client.chat.completions.create({ model: fcModel, messages, tools }, encrypted);
      const call = first.choices[0].message.tool_calls?.[0];
      console.log(plain(`tool call ${call?.function.name}(${call?.function.arguments})`));
      if (call) {
        messages.push(first.choices[0].message, { role: 'tool', tool_call_id: call.id, content: '北京天气晴,24~30度' });
        const second = await client.chat.completions.create({ model: fcModel, messages, tools }, encrypted);
        console.log(plain(second.choices[0].message.content));
      }
    });

    await scenario('6. Custom X-Client-Request-Id header', exchanges, async () => {
      const id = '202406251728190000B7EA7A9648AC08D9';
      const { data, response } = await client.chat.completions
        .create({ model, messages: [{ role: 'user', content: QUESTION }] }, { headers: { ...encrypted.headers, 'X-Client-Request-Id': id } })
        .withResponse();
      console.log(plain(`${data.choices[0].message.content}  ${dim(`(request id ${response.headers.get('x-client-request-id') ?? id})`)}`));
    });

    await scenario('7. A base64 image (encrypted whole, data: URL included)', exchanges, async () => {
      const c = await client.chat.completions.create(
        { model, messages: [{ role: 'user', content: [{ type: 'text', text: '这张图片里有什么?' }, { type: 'image_url', image_url: { url: PNG } }] }] },
        encrypted,
      );
      console.log(plain(c.choices[0].message.content));
    });

    await scenario('8. Error handling', exchanges, async () => {
      try {
        await client.chat.completions.create({ model: real ? model : 'mock-429', messages: [{ role: 'user', content: QUESTION }] }, encrypted);
        console.log(plain('no error from the service this time'));
      } catch (error) {
        console.log(`   ${yellow('✓ service error surfaces as')} ${error.constructor.name} ${error.status ?? ''}`);
      }
      try {
        await client.chat.completions.create({ model, messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] }] }, encrypted);
      } catch (error) {
        const typed = error instanceof ArkE2EEError ? error : error.cause;
        console.log(`   ${yellow('✓ refused before sending:')} ${typed?.code}`);
      }
    });
    if (server) {
      await scenario('9. Access keys instead of an API key (signed OpenAPI calls for the key and the certificate)', exchanges, async () => {
        const viaAccessKeys = new OpenAI({
          apiKey: 'unused',
          defaultHeaders: { Authorization: null },
          baseURL,
          maxRetries: 0,
          fetch: createEncryptedFetch({ fetch: fetchOnWire, cacheDir: false, ...accessKeys, openApiUrl: server.openApiUrl }),
        });
        const completion = await viaAccessKeys.chat.completions.create(
          { model: 'ep-20260101-demo', messages: [{ role: 'user', content: QUESTION }] },
          encrypted,
        );
        console.log(plain(completion.choices[0].message.content));
      });
    }
    if (warnings.length > 0) console.log(dim(`\nwarnings: ${warnings.join('; ')}`));
    if (server) {
      const leaked = server.requests.filter((r) => r.body.includes(QUESTION)).length;
      console.log(bold(`\nwire check: ${server.requests.length} requests reached the server, ${leaked} carried a question in plain text.`));
      if (leaked > 0) process.exitCode = 1;
    }
  } finally {
    await server?.close();
  }
}

main().catch((error) => {
  console.error(`demo failed: ${error.code ? `${error.code}: ` : ''}${error.message}`);
  process.exitCode = 1;
});
