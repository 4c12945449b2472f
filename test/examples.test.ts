/**
 * Every example under examples/ run as users run it (`node <file>`, importing 'ark-e2ee' through
 * the package's self-reference to dist/), against its own mock Ark server and its own HOME (so
 * its certificate cache cannot serve another server's certificate). Each must exit 0, print the
 * mock's answer to what it sent, and never put its plaintext on the wire.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MOCK_TOOL_ARGUMENTS,
  mockAnswerText,
  startMockArkServer,
  type RecordedRequest,
} from '../src/testing/index.js';
import { secretTexts } from './interop/seed-scenarios.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const API_KEY = 'ark-examples-key';

interface Example {
  /** Path under examples/. */
  file: string;
  /** ARK_MODEL; default `mock-model`. */
  model?: string;
  /** The user questions the example asks: each must reach the service, encrypted. */
  questions: string[];
  /** How many chat requests the service must see. */
  chats: number;
  /** Which chat requests' answers must be printed (indexes); default all. */
  answered?: number[];
  /** More text stdout must contain. */
  prints?: (string | RegExp)[];
  /** More checks on the recorded chat requests and stdout. */
  check?: (chats: RecordedRequest[], stdout: string) => void;
}

const EXAMPLES: Example[] = [
  { file: 'openai/single-turn.mjs', questions: ['常见的十字花科植物有哪些?'], chats: 1 },
  {
    file: 'openai/multi-turn.mjs',
    model: 'mock-pieces',
    questions: ['花椰菜是什么?', '再详细点'],
    chats: 1,
    check: (chats) => expect(secretTexts(chats[0]!.decryptedMessages!)).toContain('花椰菜又称菜花、花菜,是一种常见的蔬菜。'),
  },
  { file: 'openai/streaming.mjs', questions: ['常见的十字花科植物有哪些?'], chats: 1 },
  {
    file: 'openai/async-concurrent.mjs',
    questions: ['常见的十字花科植物有哪些?', '花椰菜是什么?', '西兰花怎么做好吃?'],
    chats: 3,
    check: (chats) => expect(new Set(chats.map((c) => c.headers['x-session-token'])).size).toBe(3),
  },
  {
    file: 'openai/function-call.mjs',
    model: 'mock-tools',
    questions: ['北京今天的天气'],
    chats: 2,
    answered: [1],
    prints: [`get_current_weather(${MOCK_TOOL_ARGUMENTS})`, 'summary: 北京天气晴,24~30度'],
    check: (chats) => {
      expect(chats.every((c) => JSON.parse(c.body).tools?.[0]?.function?.name === 'get_current_weather')).toBe(true);
      expect(chats[1]!.body).not.toContain('天气晴');
    },
  },
  {
    file: 'openai/custom-header.mjs',
    questions: ['常见的十字花科植物有哪些?'],
    chats: 1,
    check: (chats, stdout) => {
      const id = chats[0]!.headers['x-client-request-id'];
      expect(id).toMatch(/^\d{14}[0-9A-F]{20}$/);
      expect(stdout).toContain(`X-Client-Request-Id: ${id}`);
      expect(stdout).toMatch(/x-request-id: 021mock\d{8}/);
    },
  },
  {
    file: 'openai/image-base64.mjs',
    questions: ['这张图片里有什么?'],
    chats: 1,
    check: (chats) => {
      expect(chats[0]!.body).not.toContain('data:image/png');
      expect(JSON.stringify(chats[0]!.decryptedMessages)).toContain('data:image/png;base64,iVBOR');
    },
  },
  {
    file: 'openai/error-handling.mjs',
    questions: ['常见的十字花科植物有哪些?'],
    // The audio request is refused before anything is sent.
    chats: 1,
    prints: ['ark-e2ee error ERR_ARK_E2EE_UNSUPPORTED_CONTENT'],
  },
  {
    file: 'openai/error-handling.mjs',
    model: 'mock-429',
    questions: ['常见的十字花科植物有哪些?'],
    chats: 1,
    answered: [],
    prints: ['Ark API error 429 RateLimitExceeded.EndpointRPMExceeded', 'ark-e2ee error ERR_ARK_E2EE_UNSUPPORTED_CONTENT'],
  },
  { file: 'vercel-ai-sdk.mjs', questions: ['常见的十字花科植物有哪些?', '花椰菜是什么?'], chats: 2 },
  { file: 'langchain.mjs', questions: ['常见的十字花科植物有哪些?', '花椰菜是什么?'], chats: 2 },
  { file: 'undici.mjs', questions: ['常见的十字花科植物有哪些?', '花椰菜是什么?'], chats: 2 },
  { file: 'fetch.mjs', questions: ['常见的十字花科植物有哪些?', '花椰菜是什么?'], chats: 2 },
];

let homes: string;

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist/index.js')) || !existsSync(join(ROOT, 'dist/testing/index.js'))) {
    await run('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT });
  }
  homes = await mkdtemp(join(tmpdir(), 'ark-e2ee-examples-'));
}, 120_000);

afterAll(async () => {
  if (homes) await rm(homes, { recursive: true, force: true });
});

/** Runs one example against a fresh mock server; resolves with its output and what the server saw. */
async function runExample(example: Example) {
  const server = await startMockArkServer({ apiKey: API_KEY });
  const home = await mkdtemp(join(homes, 'home-'));
  try {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ARK_BASE_URL: server.url,
      ARK_API_KEY: API_KEY,
      ARK_MODEL: example.model ?? 'mock-model',
      HOME: home,
      USERPROFILE: home,
    };
    delete env['VOLC_ARK_ENCRYPTION'];
    delete env['E2E_CERTIFICATE_PATH'];
    const { stdout, stderr } = await run(process.execPath, [join('examples', example.file)], {
      cwd: ROOT,
      env,
      timeout: 25_000,
    }).catch((error: { code?: unknown; stdout?: string; stderr?: string }) => {
      throw new Error(`${example.file} failed (exit ${String(error.code)}):\n${error.stdout ?? ''}\n${error.stderr ?? ''}`);
    });
    return { stdout, stderr, home, requests: [...server.requests] };
  } finally {
    await server.close();
  }
}

describe.concurrent('examples/ against the mock server', () => {
  it.each(EXAMPLES.map((example) => [`${example.file} (${example.model ?? 'mock-model'})`, example] as const))(
    '%s',
    async (_name, example) => {
      const { stdout, stderr, home, requests } = await runExample(example);
      expect(stderr).not.toMatch(/ark-e2ee:/); // no warnings from the library
      // A loopback server's certificate stays out of the shared ~/.ark/certificates cache.
      expect((await readdir(home, { recursive: true })).some((name) => name.endsWith('.pem'))).toBe(false);
      const chats = requests.filter((r) => r.path.endsWith('/chat/completions'));
      expect(chats).toHaveLength(example.chats);

      // Every chat request asked for encryption and the service could open it.
      for (const chat of chats) {
        expect(chat.headers['x-is-encrypted']).toBe('true');
        expect(chat.headers['authorization']).toBe(`Bearer ${API_KEY}`);
        expect(chat.decryptedMessages).toBeDefined();
      }
      const sent = chats.flatMap((chat) => chat.decryptedMessages ?? []);
      const sentTexts = new Set(secretTexts(sent));
      for (const question of example.questions) expect(sentTexts).toContain(question);

      // No plaintext on the wire: neither the questions nor any other message text, in any request.
      for (const request of requests) {
        for (const text of [...example.questions, ...sentTexts]) expect(request.body).not.toContain(text);
      }

      // The decrypted answers are printed.
      const answered = example.answered ?? chats.map((_chat, index) => index);
      for (const index of answered) expect(stdout).toContain(mockAnswerText(chats[index]!.decryptedMessages));
      for (const text of example.prints ?? []) {
        if (typeof text === 'string') expect(stdout).toContain(text);
        else expect(stdout).toMatch(text);
      }
      example.check?.(chats, stdout);
    },
  );
});
