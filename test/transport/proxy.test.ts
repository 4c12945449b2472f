/**
 * The encrypting proxy against the mock Ark server: node's fetch as the client, Python's
 * standard library (examples/python-stdlib/chat.py) as a non-JavaScript client, and the CLI.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mockLongModel, mockLongText, startMockArkServer, type MockArkServer } from '../../src/testing/index.js';
import { startEncryptingProxy, type EncryptingProxy, type EncryptingProxyOptions, type ProxyLogEntry } from '../../src/transport/proxy.js';
import { SINGLE_TURN, expectedAnswer, secretTexts } from '../interop/seed-scenarios.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const API_KEY = 'ark-proxy-key';
const auth = { authorization: `Bearer ${API_KEY}` };
const hasPython = spawnSync('python3', ['--version']).status === 0;
let server: MockArkServer;
let proxy: EncryptingProxy;
let allProxy: EncryptingProxy;
const logs: ProxyLogEntry[] = [];
const started: EncryptingProxy[] = [];

async function startProxy(options: Partial<EncryptingProxyOptions> = {}): Promise<EncryptingProxy> {
  const created = await startEncryptingProxy({ upstream: server.url, cacheDir: false, ...options });
  started.push(created);
  return created;
}

beforeAll(async () => {
  server = await startMockArkServer({ apiKey: API_KEY });
  proxy = await startProxy({ onRequest: (entry) => logs.push(entry) });
  allProxy = await startProxy({ encryptAll: true });
});
afterAll(async () => {
  await Promise.all(started.map((p) => p.close()));
  await server.close();
});

const chatBody = (extra: object = {}, messages: unknown = SINGLE_TURN): string =>
  JSON.stringify({ model: 'mock-model', messages, ...extra });
const post = (base: string, headers: Record<string, string>, body: string, path = '/chat/completions'): Promise<Response> =>
  fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth, ...headers }, body });
const lastChat = () => server.requests.filter((r) => r.path.endsWith('/chat/completions')).at(-1)!;
const contentOf = async (response: Response): Promise<string> =>
  ((await response.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content;

/** The delta contents of an SSE text, and whether it ended with [DONE]. */
function sseContents(text: string): { content: string; done: boolean } {
  let content = '';
  let done = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith('data: ')) continue;
    if (line === 'data: [DONE]') done = true;
    else content += (JSON.parse(line.slice(6)) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content ?? '';
  }
  return { content, done };
}

/** Reads a body to its end: the text that came, and the error that ended it, if one did. */
async function drain(response: Response): Promise<{ text: string; error?: unknown }> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  try {
    for (let part = await reader.read(); !part.done; part = await reader.read()) text += part.value;
    return { text };
  } catch (error) {
    return { text, error };
  }
}

describe('proxy: node fetch as the client', () => {
  it('x-is-encrypted: true: encrypted up, decrypted down, no plaintext on the wire', async () => {
    const response = await post(proxy.url, { 'x-is-encrypted': 'true' }, chatBody());
    expect(response.status).toBe(200);
    expect(response.headers.get('x-request-id')).toMatch(/^021mock/);
    expect(await contentOf(response)).toBe(expectedAnswer(SINGLE_TURN));
    const sent = lastChat();
    expect(sent.path).toBe('/api/v3/chat/completions');
    expect(sent.headers['x-session-token']).toBeTruthy();
    for (const text of secretTexts(SINGLE_TURN)) expect(sent.body).not.toContain(text);
    await vi.waitFor(() => expect(logs.at(-1)).toMatchObject({ method: 'POST', path: '/chat/completions', status: 200, encrypted: true }));
  });

  it('without the header, the request and the answer pass through byte for byte', async () => {
    const raw = `{"model":"mock-model",   "messages":${JSON.stringify(SINGLE_TURN)}}`;
    const response = await post(proxy.url, { 'x-client-request-id': 'abc-123' }, raw);
    const bytes = new Uint8Array(await response.arrayBuffer());
    expect(lastChat().body).toBe(raw);
    expect(lastChat().headers['x-client-request-id']).toBe('abc-123');
    expect(lastChat().headers['x-session-token']).toBeUndefined();
    expect(response.headers.get('x-client-request-id')).toBe('abc-123');
    expect(Number(response.headers.get('content-length'))).toBe(bytes.length);
    const answer = JSON.parse(new TextDecoder().decode(bytes)) as { choices: { message: { content: string } }[] };
    expect(answer.choices[0]!.message.content).toBe(expectedAnswer(SINGLE_TURN));
  });

  it('--encrypt-all encrypts a chat completion without the header, batch too', async () => {
    for (const path of ['/chat/completions', '/batch/chat/completions']) {
      const response = await post(allProxy.url, {}, chatBody(), path);
      expect(await contentOf(response)).toBe(expectedAnswer(SINGLE_TURN));
      const sent = server.requests.at(-1)!;
      expect(sent.path).toBe(`/api/v3${path}`);
      expect(sent.headers['x-is-encrypted']).toBe('true');
      for (const text of secretTexts(SINGLE_TURN)) expect(sent.body).not.toContain(text);
    }
  });

  it('a stream is decrypted as it flows: the first event arrives before the rest is sent', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const gated: typeof fetch = async (input, init) => {
      const answer = await fetch(input, init);
      if (!answer.headers.get('content-type')?.includes('event-stream')) return answer;
      let held: Uint8Array | null = new Uint8Array();
      const gate = new TransformStream<Uint8Array, Uint8Array>({
        async transform(chunk, controller) {
          if (held === null) return controller.enqueue(chunk);
          const all = new Uint8Array([...held, ...chunk]);
          const end = Buffer.from(all).indexOf('\n\n');
          if (end < 0) return void (held = all);
          held = null;
          controller.enqueue(all.slice(0, end + 2));
          await released;
          controller.enqueue(all.slice(end + 2));
        },
      });
      return new Response(answer.body!.pipeThrough(gate), { status: answer.status, headers: answer.headers });
    };
    const gatedProxy = await startProxy({ fetch: gated });
    const response = await post(gatedProxy.url, { 'x-is-encrypted': 'true' }, chatBody({ model: mockLongModel(3000, 10), stream: true }));
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (!text.includes('\n\n')) text += (await reader.read()).value ?? '';
    expect(sseContents(text).content).toBe(mockLongText(10));
    release();
    for (let part = await reader.read(); !part.done; part = await reader.read()) text += part.value;
    expect(sseContents(text)).toEqual({ content: mockLongText(3000), done: true });
  });

  it('401 and 429 pass through; a wrong key on a new model gets the certificate service 401', async () => {
    const unauthorized = await fetch(`${proxy.url}/chat/completions`, { method: 'POST', headers: { authorization: 'Bearer wrong' }, body: chatBody() });
    expect(unauthorized.status).toBe(401);
    expect(await unauthorized.json()).toMatchObject({ error: { code: 'AuthenticationError' } });
    const limited = await post(proxy.url, { 'x-is-encrypted': 'true' }, chatBody({ model: 'mock-429' }));
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(await limited.json()).toMatchObject({ error: { code: expect.stringMatching(/RateLimit/) } });
    const refused = await fetch(`${proxy.url}/chat/completions`, {
      method: 'POST', headers: { authorization: 'Bearer wrong', 'x-is-encrypted': 'true' }, body: chatBody({ model: 'never-fetched' }) });
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ error: { type: 'ark_e2ee_error', code: 'ERR_ARK_E2EE_CERTIFICATE_UNAVAILABLE' } });
  });

  it('GET /models (404 from the mock) passes through, also with --encrypt-all', async () => {
    for (const base of [proxy.url, allProxy.url]) {
      const response = await fetch(`${base}/models?limit=2`, { headers: auth });
      expect(response.status).toBe(404);
      expect(await response.json()).toMatchObject({ error: { code: 'NotFound' } });
      expect(server.requests.at(-1)).toMatchObject({ method: 'GET', path: '/api/v3/models?limit=2' });
    }
  });

  it('a request that cannot be encrypted is answered 400 and nothing is sent', async () => {
    const before = server.requests.length;
    const getModels = await fetch(`${proxy.url}/models`, { headers: { ...auth, 'x-is-encrypted': 'true' } });
    expect(getModels.status).toBe(400);
    expect(await getModels.json()).toEqual({ error: { message: expect.any(String), type: 'ark_e2ee_error', code: 'ERR_ARK_E2EE_UNSUPPORTED_REQUEST' } });
    const ftp = [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'ftp://example.com/secret.png' } }] }];
    const content = await post(proxy.url, { 'x-is-encrypted': 'true' }, chatBody({}, ftp));
    expect(content.status).toBe(400);
    expect(await content.json()).toMatchObject({ error: { code: 'ERR_ARK_E2EE_UNSUPPORTED_CONTENT' } });
    expect(server.requests.slice(before).filter((r) => r.path.endsWith('/chat/completions'))).toEqual([]);
    // The log says nothing went up, not that it went up encrypted.
    await vi.waitFor(() => expect(logs.find((l) => l.path === '/models' && l.encrypted)).toMatchObject({ status: 400, sent: 'nothing' }));
  });

  it('logs what went up: encrypted, plain, or nothing', async () => {
    await contentOf(await post(proxy.url, { 'x-is-encrypted': 'true' }, chatBody()));
    await vi.waitFor(() => expect(logs.at(-1)).toMatchObject({ status: 200, encrypted: true, sent: 'encrypted' }));
    await contentOf(await post(proxy.url, {}, chatBody()));
    await vi.waitFor(() => expect(logs.at(-1)).toMatchObject({ status: 200, encrypted: false, sent: 'plain' }));
  });

  it('a client given the proxy URL with the upstream base path: 404 that says so, nothing sent', async () => {
    const before = server.requests.length;
    const doubled = await post(proxy.url, { 'x-is-encrypted': 'true' }, chatBody(), '/api/v3/chat/completions');
    expect(doubled.status).toBe(404);
    const { error } = (await doubled.json()) as { error: { message: string; code: string } };
    expect(error.code).toBe('doubled_base_path');
    expect(error.message).toContain(`Give the client the proxy root as its base URL: ${proxy.url}, not ${proxy.url}/api/v3`);
    expect(server.requests.length).toBe(before);
    await vi.waitFor(() => expect(logs.at(-1)).toMatchObject({ path: '/api/v3/chat/completions', status: 404, sent: 'nothing' }));
  });

  it('an unreachable upstream: 502, certificate unavailable with the header, proxy_error without', async () => {
    const closed = createHttpServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    const dead = await startProxy({ upstream: `http://127.0.0.1:${port}/api/v3` });
    const encrypted = await post(dead.url, { 'x-is-encrypted': 'true' }, chatBody());
    expect(encrypted.status).toBe(502);
    expect(await encrypted.json()).toMatchObject({ error: { code: 'ERR_ARK_E2EE_CERTIFICATE_UNAVAILABLE' } });
    const plain = await post(dead.url, {}, chatBody());
    expect(plain.status).toBe(502);
    expect(await plain.json()).toMatchObject({ error: { type: 'proxy_error', code: 'upstream_unreachable' } });
  });

  it('a JSON answer that does not decrypt is a 502; a stream that fails half-way is cut', async () => {
    const forged = 'A'.repeat(24);
    const tampering: typeof fetch = async (input, init) => {
      const answer = await fetch(input, init);
      if (!String(input).endsWith('/chat/completions')) return answer;
      const text = await answer.text();
      const events = text.split('\n\n');
      const body = answer.headers.get('content-type')!.includes('event-stream')
        ? new ReadableStream<Uint8Array>({
            start(controller) {
              events.forEach((event, i) => {
                const out = i === 3 ? `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: forged } }] })}` : event;
                controller.enqueue(new TextEncoder().encode(i < events.length - 1 ? `${out}\n\n` : out));
              });
              controller.close();
            },
          })
        : text.replace(/"content":"[^"]+"/, `"content":"${forged}"`);
      return new Response(body, { status: answer.status, headers: answer.headers });
    };
    const tampered = await startProxy({ fetch: tampering });
    const json = await post(tampered.url, { 'x-is-encrypted': 'true' }, chatBody());
    expect(json.status).toBe(502);
    expect(await json.json()).toMatchObject({ error: { type: 'ark_e2ee_error', code: 'ERR_ARK_E2EE_DECRYPTION_FAILED' } });
    const stream = await post(tampered.url, { 'x-is-encrypted': 'true' }, chatBody({ model: mockLongModel(100, 5), stream: true }));
    expect(stream.status).toBe(200);
    const { text: received, error } = await drain(stream);
    expect(error).toBeInstanceOf(Error);
    expect(received).not.toContain(forged);
    expect(received).not.toContain('[DONE]');
    expect(mockLongText(100).startsWith(sseContents(received).content)).toBe(true);
  });

  it('a client that disconnects aborts the upstream request; close() cuts open streams', async () => {
    const cut: string[] = [];
    server.server.on('request', (request: IncomingMessage, response: ServerResponse) =>
      response.on('close', () => void (response.writableFinished || cut.push(request.url ?? ''))));
    const long = chatBody({ model: mockLongModel(5_000_000, 16), stream: true });
    for (let round = 1; round <= 3; round += 1) {
      const client = new AbortController();
      const response = await fetch(`${proxy.url}/chat/completions`, {
        method: 'POST', headers: { ...auth, 'x-is-encrypted': 'true' }, body: long, signal: client.signal });
      await response.body!.getReader().read();
      client.abort();
      await vi.waitFor(() => expect(cut).toHaveLength(round), { timeout: 10_000 });
    }
    const closing = await startProxy();
    const second = await post(closing.url, { 'x-is-encrypted': 'true' }, long);
    const cutByClose = drain(second);
    await closing.close();
    expect((await cutByClose).error).toBeInstanceOf(Error);
    await vi.waitFor(() => expect(cut).toHaveLength(4), { timeout: 10_000 });
  });

  it('a client that leaves before the answer begins aborts the upstream request too', async () => {
    let closed = false;
    const silent = createHttpServer((_request, response) => response.on('close', () => void (closed = true)));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const slow = await startProxy({ upstream: `http://127.0.0.1:${(silent.address() as { port: number }).port}/v1` });
    const client = new AbortController();
    const request = fetch(`${slow.url}/chat/completions`, { method: 'POST', body: chatBody(), signal: client.signal });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(closed).toBe(false);
    client.abort();
    await expect(request).rejects.toThrow();
    await vi.waitFor(() => expect(closed).toBe(true), { timeout: 5_000 });
    silent.closeAllConnections();
    await new Promise((resolve) => silent.close(resolve));
  });
});

describe('proxy: Python standard library as the client (examples/python-stdlib/chat.py)', () => {
  const runPython = (args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    new Promise((resolve, reject) => {
      const env: NodeJS.ProcessEnv = { ...process.env, ARK_API_KEY: API_KEY, ARK_PROXY_URL: proxy.url, ARK_MODEL: 'mock-model', NO_PROXY: '*', no_proxy: '*' };
      for (const name of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'ALL_PROXY', 'all_proxy']) delete env[name];
      const child = spawn('python3', [join(ROOT, 'examples/python-stdlib/chat.py'), ...args], { env });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  const question = '常见的十字花科植物有哪些? (python)';
  const skipNote = hasPython ? '' : ' [SKIPPED: python3 is not on PATH]';

  it.skipIf(!hasPython)(`non-streamed answer through the proxy${skipNote}`, async () => {
    const result = await runPython([question]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(`${expectedAnswer([{ role: 'user', content: question }])}\n`);
    expect(lastChat().body).not.toContain(question);
    expect(lastChat().headers['user-agent']).toMatch(/Python-urllib/);
  });

  it.skipIf(!hasPython)(`streamed answer, SSE read line by line${skipNote}`, async () => {
    const result = await runPython(['--stream', '--model', mockLongModel(500, 7), question]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${mockLongText(500)}\n`);
    expect(lastChat().body).not.toContain(question);
  });
});

describe('proxy: the CLI (node dist/cli/main.js proxy)', () => {
  const main = join(ROOT, 'dist/cli/main.js');
  beforeAll(() => {
    const newest = (dir: string): number => Math.max(...readdirSync(dir, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts')).map((f) => statSync(join(dir, f)).mtimeMs));
    const built = ['dist/cli/main.js', 'dist/cli/commands/proxy.js', 'dist/transport/proxy.js'].map((f) => join(ROOT, f));
    const oldest = Math.min(...built.map((f) => (existsSync(f) ? statSync(f).mtimeMs : 0)));
    if (oldest < newest(join(ROOT, 'src'))) {
      // Other files may be mid-edit: tsc still emits, and the proxy's own files are what count.
      spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT });
    }
    if (!built.every((f) => existsSync(f))) throw new Error('dist/ could not be built: run npm run build');
  }, 120_000);

  it('prints "listening on", proxies an encrypted request, logs it, exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, [main, 'proxy', '--upstream', server.url, '--port', '0', '--no-cache'], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
        const found = /^listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(stdout);
        if (found) resolve(found[1]!);
      });
      void exited.then((code) => reject(new Error(`exited ${code}: ${stderr}`)));
    });
    const response = await post(url, { 'x-is-encrypted': 'true' }, chatBody());
    expect(await contentOf(response)).toBe(expectedAnswer(SINGLE_TURN));
    await vi.waitFor(() => expect(stderr).toMatch(/POST \/chat\/completions 200 encrypted=yes \d+ms/));
    const refused = await post(url, { 'x-is-encrypted': 'true' }, chatBody({}, [{ role: 'user', content: [{ type: 'input_audio' }] }]));
    expect(refused.status).toBe(400);
    await vi.waitFor(() => expect(stderr).toMatch(/POST \/chat\/completions 400 encrypted=refused, nothing sent \d+ms \(ERR_ARK_E2EE_UNSUPPORTED_CONTENT/));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stdout).toMatch(/^listening on http:\/\/127\.0\.0\.1:\d+\n$/);
  });

  it('--host off loopback needs --allow-remote (exit 2 without it), and warns with it', async () => {
    const refused = spawnSync(process.execPath, [main, 'proxy', '--upstream', server.url, '--host', '0.0.0.0', '--port', '0'], { cwd: ROOT, encoding: 'utf8' });
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/^ark-e2ee proxy: --host 0\.0\.0\.0 lets other machines send chats to the proxy in plain text; add --allow-remote/);
    const child = spawn(process.execPath, [main, 'proxy', '--upstream', server.url, '--host', '0.0.0.0', '--allow-remote', '--port', '0', '--no-cache'], { cwd: ROOT });
    let stderr = '';
    let stdout = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await vi.waitFor(() => expect(stdout).toMatch(/^listening on /), { timeout: 10_000 });
    await vi.waitFor(() => expect(stderr).toMatch(/warning: listening on 0\.0\.0\.0: chats \(and API keys\) reach this proxy from the network in plain text/));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
