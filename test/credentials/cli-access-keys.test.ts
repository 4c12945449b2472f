/** `ark-e2ee chat` and `ark-e2ee proxy` with VOLC_ACCESSKEY / VOLC_SECRETKEY, spawned against the mock. */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.js';
import { mockAnswerText, startMockArkServer, type MockArkServer } from '../../src/testing/index.js';

const root = new URL('../..', import.meta.url);
const CLI = new URL('dist/cli/main.js', root).pathname;
const AK = 'AKLTclikey';
const SK = 'cli-secret';
const MODEL = 'ep-20260101-cli';
let server: MockArkServer;
let home: string;

function cli(args: string[], env: Record<string, string> = {}): ReturnType<typeof runCli> {
  return runCli(args, home, env);
}

beforeAll(async () => {
  if (!existsSync(CLI)) await new Promise((r) => execFile('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root }, r));
  server = await startMockArkServer({ openApi: { accessKey: AK, secretKey: SK, endpoints: [MODEL] } });
  home = await mkdtemp(join(tmpdir(), 'ark-e2ee-cli-ak-'));
}, 120_000);
afterAll(() => server.close());

describe('the command line with access keys', () => {
  it('chat: a short-lived key and the OpenAPI certificate, no ARK_API_KEY needed', async () => {
    const r = await cli(['chat', '--base-url', server.url, '--openapi-url', server.openApiUrl!, '--model', MODEL, '--no-stream', 'hi'], {
      VOLC_ACCESSKEY: AK,
      VOLC_SECRETKEY: SK,
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${mockAnswerText([{ role: 'user', content: 'hi' }])}\n`);
    expect(server.openApi!.stats.getApiKey).toBeGreaterThanOrEqual(1);
    expect(r.stdout + r.stderr).not.toContain(SK);
  });

  it('chat: a wrong secret is an error naming the OpenAPI code, and usage without any credential says what to set', async () => {
    const chats = server.stats.chatRequests;
    const r = await cli(['chat', '--base-url', server.url, '--openapi-url', server.openApiUrl!, '--model', MODEL, 'hi'], {
      VOLC_ACCESSKEY: AK,
      VOLC_SECRETKEY: 'not-the-secret-9f',
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('SignatureDoesNotMatch');
    expect(r.stderr).not.toContain('not-the-secret-9f');
    expect(server.stats.chatRequests).toBe(chats);
    const none = await cli(['chat', '--model', MODEL, 'hi']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/ARK_API_KEY.*VOLC_ACCESSKEY/);
  });

  it('serve: with an access key pair in the environment it serves the OpenAPI too, and chat works against it', async () => {
    const env = { PATH: process.env.PATH ?? '', HOME: home, VOLC_ACCESSKEY: AK, VOLC_SECRETKEY: SK };
    const child = spawn('node', [CLI, 'serve', '--json'], { env });
    try {
      const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout }).once('line', resolve));
      const { url, openApiUrl } = JSON.parse(line) as { url: string; openApiUrl: string };
      expect(openApiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const r = await cli(['chat', '--base-url', url, '--openapi-url', openApiUrl, '--model', MODEL, '--no-stream', 'hello serve'], env);
      expect(r.stdout).toBe(`${mockAnswerText([{ role: 'user', content: 'hello serve' }])}\n`);
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('proxy: a client without an API key is served with the short-lived key', async () => {
    const child = spawn('node', [CLI, 'proxy', '--upstream', server.url, '--openapi-url', server.openApiUrl!, '--port', '0', '--encrypt-all', '--no-cache'], {
      env: { PATH: process.env.PATH ?? '', HOME: home, VOLC_ACCESSKEY: AK, VOLC_SECRETKEY: SK },
    });
    try {
      const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout }).once('line', resolve));
      const url = line.replace('listening on ', '');
      const response = await fetch(`${url}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'via proxy' }] }),
      });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { choices: { message: { content: string } }[] };
      expect(body.choices[0]!.message.content).toBe(mockAnswerText([{ role: 'user', content: 'via proxy' }]));
    } finally {
      child.kill('SIGTERM');
    }
  });
});
