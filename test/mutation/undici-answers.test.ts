/**
 * Answers the undici interceptor must not decrypt (src/transport/undici/exchange.ts), as a
 * mutation run found them untested: an error page that is not JSON keeps its status and bytes
 * (decrypting it would hide the status behind a decryption error), a 204 has no body to decrypt,
 * and a compressed answer to an encrypted request is refused by name, since identity was asked.
 */
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { arkEncryption } from '../../src/index.js';
import { AnswerTooLargeError, DecryptionFailedError } from '../../src/errors.js';
import { startHostileServer, type HostileServer } from '../helpers/hostile-server.js';

const ERROR_PAGE = '<html><body>502 Bad Gateway</body></html>';
let server: HostileServer;
/** The length of the last chat answer the server sent, before decryption. */
let sentLength = 0;
let agent: Agent;

beforeAll(async () => {
  server = await startHostileServer(({ request: incoming, response, seal }) => {
    const path = incoming.url ?? '';
    if (path.includes('error-page')) {
      response.writeHead(502, { 'content-type': 'text/html' });
      response.end(ERROR_PAGE);
    } else if (path.includes('no-content')) {
      response.writeHead(204);
      response.end();
    } else if (path.includes('compressed')) {
      const body = gzipSync(JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: seal('hi') } }] }));
      response.writeHead(200, { 'content-type': 'application/json', 'content-encoding': ' GZIP ', 'content-length': body.length });
      response.end(body);
    } else {
      const coding = path.includes('identity') ? { 'content-encoding': 'Identity ' } : {};
      const body = JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: seal('hello') } }] });
      sentLength = Buffer.byteLength(body);
      if (path.includes('chunked')) {
        // No content-length: the limit is met while the body is read.
        response.writeHead(200, { 'content-type': 'application/json', ...coding });
        response.write(body.slice(0, 10));
        response.end(body.slice(10));
      } else {
        response.writeHead(200, { 'content-type': 'application/json', 'content-length': sentLength, ...coding });
        response.end(body);
      }
    }
  });
  agent = new Agent();
});
afterAll(async () => {
  await agent.close();
  await server.close();
});

function chat(prefix: string, maxAnswerBytes?: number) {
  const dispatcher = agent.compose(arkEncryption({ certificate: server.pem, cacheDir: false, sessionPool: 0, maxAnswerBytes }));
  return request(`${server.url}/${prefix}/chat/completions`, {
    dispatcher,
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-is-encrypted': 'true', authorization: 'Bearer k' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'secret words' }] }),
  });
}

describe('answers to an encrypted request that are not decrypted', () => {
  it('a 2xx chat answer is decrypted (the control)', async () => {
    const answer = await chat('ok');
    expect(answer.statusCode).toBe(200);
    expect(((await answer.body.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content).toBe('hello');
  });

  it('an answer whose coding is identity, however written, is decrypted', async () => {
    const answer = await chat('identity');
    expect(((await answer.body.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content).toBe('hello');
  });

  it('an error page that is not JSON keeps its status and its bytes', async () => {
    const answer = await chat('error-page');
    expect(answer.statusCode).toBe(502);
    expect(await answer.body.text()).toBe(ERROR_PAGE);
  });

  it('a 204 passes with no body', async () => {
    const answer = await chat('no-content');
    expect(answer.statusCode).toBe(204);
    expect(await answer.body.text()).toBe('');
  });

  it('a compressed answer is refused, naming its coding, however the coding is written', async () => {
    const failure = await chat('compressed').then(async (answer) => answer.body.text(), (error: unknown) => error);
    expect(failure).toBeInstanceOf(DecryptionFailedError);
    expect((failure as Error).message).toBe(
      'the answer to an encrypted request came compressed (GZIP ) although identity was asked for, so it cannot be ' +
        'decrypted; not trusting it',
    );
    expect(server.bodies.at(-1)).not.toContain('secret words');
  });
});

describe('maxAnswerBytes on a JSON answer, to the byte', () => {
  const content = async (answer: Awaited<ReturnType<typeof chat>>): Promise<string> =>
    ((await answer.body.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content;

  for (const path of ['announced', 'chunked']) {
    it(`an answer of exactly the limit is read, one byte over is refused (${path} length)`, async () => {
      await content(await chat(path));
      const length = sentLength;
      expect(await content(await chat(path, length))).toBe('hello');
      const failure = await chat(path, length - 1).then(async (answer) => answer.body.text(), (error: unknown) => error);
      expect(failure).toBeInstanceOf(AnswerTooLargeError);
      expect((failure as AnswerTooLargeError).limit).toBe(length - 1);
    });
  }
});
