/**
 * ArkEncryptor's options as every transport reads them (issue 16): the chat path with trailing
 * slashes, AICC from the environment, E2E_CERTIFICATE_PATH, the default disk cache and its
 * loopback rule, which options stop the origin from choosing the certificate, the default
 * warning sink, the plain-text hook, and the refusals' wording. The inner fetch records what
 * would have gone on the wire.
 */
import { createHash, createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createEncryptedFetch } from '../../src/index.js';
import type { CertificateHttp } from '../../src/certificates/service.js';
import { ArkEncryptor, certificateSourceOptions, chatBaseUrl, createCertificateSource, isEventStream, maxCertificateBytesOf } from '../../src/transport/encryptor.js';
import { InvalidOptionError } from '../../src/errors.js';
import { loadNoble } from '../../src/crypto/select.js';
import { makeCertificate } from '../helpers/make-certificate.js';
import { deriveSession, serverDecrypt, serverEncrypt } from '../helpers/server-crypto.js';

const certificate = makeCertificate({ notAfter: new Date(Date.now() + 86_400_000) });
const CHAT = 'https://ark.example.test/api/v3/chat/completions';
const SECRET = 'the secret question';
const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: SECRET }] });
const pin = createHash('sha256').update(createPublicKey(certificate.privateKey).export({ type: 'spki', format: 'der' })).digest('base64');
const noHttp: CertificateHttp = () => Promise.reject(new Error('no certificate service in this test'));
const folder = mkdtempSync(join(tmpdir(), 'ark-e2ee-encryptor-options-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

interface Sent {
  url: string;
  init: RequestInit;
}

/** createEncryptedFetch over a recording double that answers as the service would. */
function wrapped(options: Parameters<typeof createEncryptedFetch>[0], answer?: (sent: Sent, key: Uint8Array, nonce: Uint8Array) => Response) {
  const calls: Sent[] = [];
  const inner = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const sent = { url: String(input), init: init ?? {} };
    calls.push(sent);
    const { key, nonce } = deriveSession(certificate.privateKey, new Headers(init?.headers).get('x-session-token')!);
    if (answer) return answer(sent, key, nonce);
    const text = JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: serverEncrypt(key, nonce, 'the answer') } }] });
    return new Response(text, { status: 200, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
  return { encryptedFetch: createEncryptedFetch({ fetch: inner, cacheDir: false, errors: 'throw', onWarning: () => {}, ...options }), calls };
}

const post = { method: 'POST', headers: { 'x-is-encrypted': 'true' }, body };

function contentAsServiceReadsIt(sent: Sent): string {
  const { key, nonce } = deriveSession(certificate.privateKey, new Headers(sent.init.headers).get('x-session-token')!);
  return serverDecrypt(key, nonce, (JSON.parse(String(sent.init.body)) as { messages: { content: string }[] }).messages[0]!.content);
}

describe('chatBaseUrl and isEventStream', () => {
  it('a chat path with one or more trailing slashes is a chat completion', () => {
    expect(chatBaseUrl(new URL('https://a.test/api/v3/chat/completions/'))).toBe('https://a.test/api/v3');
    expect(chatBaseUrl(new URL('https://a.test/api/v3/chat/completions//'))).toBe('https://a.test/api/v3');
    expect(chatBaseUrl(new URL('https://a.test/api/v3/batch/chat/completions///'))).toBe('https://a.test/api/v3');
    expect(chatBaseUrl(new URL('https://a.test/api/v3/bots/chat/completions/'))).toBeUndefined();
  });

  it('no content type is not an event stream', () => {
    expect(isEventStream(null)).toBe(false);
    expect(isEventStream(undefined)).toBe(false);
    expect(isEventStream('TEXT/EVENT-STREAM')).toBe(true);
  });

  it('a 2xx JSON answer without a content type is decrypted as JSON', async () => {
    const { encryptedFetch } = wrapped({ certificate: certificate.pem }, (_sent, key, nonce) =>
      new Response(JSON.stringify({ choices: [{ index: 0, message: { content: serverEncrypt(key, nonce, 'untyped') } }] }), { status: 200, headers: {} }));
    const response = await encryptedFetch(CHAT, post);
    expect(((await response.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBe('untyped');
  });
});

describe('AICC from the environment', () => {
  it('VOLC_ARK_ENCRYPTION=AICC asks for an AICC certificate: a plain one is refused, with the fix; nothing is sent', async () => {
    const { encryptedFetch, calls } = wrapped({ certificate: certificate.pem, env: { VOLC_ARK_ENCRYPTION: 'AICC' } });
    const error = await encryptedFetch(CHAT, post).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_ARK_E2EE_INVALID_CERTIFICATE' });
    expect((error as Error).message).toContain('the certificate option for model "m" names no AICC key ring and key, but AICC mode is on');
    expect(calls).toEqual([]);
  });

  it('with an AICC certificate, the session says so in x-encrypt-info (version, ring and key)', async () => {
    const aiccCertificate = makeCertificate({ notAfter: new Date(Date.now() + 86_400_000), ringId: 'r1', keyId: 'k1' });
    const calls: RequestInit[] = [];
    const encryptedFetch = createEncryptedFetch({
      fetch: (async (_input: unknown, init?: RequestInit) => {
        calls.push(init!);
        return new Response(null, { status: 204 });
      }) as typeof fetch,
      certificate: aiccCertificate.pem, cacheDir: false, errors: 'throw', env: { VOLC_ARK_ENCRYPTION: 'AICC' },
    });
    await encryptedFetch(CHAT, post);
    expect(JSON.parse(new Headers(calls[0]!.headers).get('x-encrypt-info')!)).toMatchObject({ Version: expect.any(String) as string, RingID: 'r1', KeyID: 'k1' });
  });

  it('aicc: false wins over the environment; another value is not AICC', async () => {
    for (const options of [{ aicc: false, env: { VOLC_ARK_ENCRYPTION: 'AICC' } }, { env: { VOLC_ARK_ENCRYPTION: 'aicc-ish' } }]) {
      const { encryptedFetch, calls } = wrapped({ certificate: certificate.pem, ...options });
      expect((await encryptedFetch(CHAT, post)).status).toBe(200);
      expect(contentAsServiceReadsIt(calls[0]!)).toBe(SECRET);
    }
  });
});

describe('E2E_CERTIFICATE_PATH', () => {
  const file = join(folder, 'model.pem');
  writeFileSync(file, certificate.pem);

  it('names the certificate every request is encrypted to', async () => {
    const { encryptedFetch, calls } = wrapped({ env: { E2E_CERTIFICATE_PATH: file } });
    expect((await encryptedFetch(CHAT, post)).status).toBe(200);
    expect(contentAsServiceReadsIt(calls[0]!)).toBe(SECRET);
  });

  it('is what the source is labelled by, unless a certificate option is given (which wins)', () => {
    const fromPath = certificateSourceOptions({ cacheDir: false, env: { E2E_CERTIFICATE_PATH: file } }, noHttp);
    expect(typeof fromPath.certificate).toBe('function');
    expect(fromPath.optionLabel).toBe(`the certificate E2E_CERTIFICATE_PATH names (${file})`);
    const given = certificateSourceOptions({ cacheDir: false, certificate: certificate.pem, env: { E2E_CERTIFICATE_PATH: file } }, noHttp);
    expect(given.certificate).toBe(certificate.pem);
    expect(given.optionLabel).toBeUndefined();
    const neither = certificateSourceOptions({ cacheDir: false, env: {} }, noHttp);
    expect([neither.certificate, neither.optionLabel]).toEqual([undefined, undefined]);
  });
});

describe('createCertificateSource', () => {
  it('builds the source from the same options (here: the certificate given)', async () => {
    const source = createCertificateSource({ cacheDir: false, certificate: certificate.pem, env: {} }, noHttp);
    const got = await source.get({ model: 'm', aicc: false, baseUrl: 'https://ark.example.test/api/v3', authorization: undefined });
    expect(got.pem).toBe(certificate.pem);
  });
});

describe('the disk cache', () => {
  it('by default: on, and not for a loopback origin (a local server makes a new certificate each start)', () => {
    const options = certificateSourceOptions({ env: {} }, noHttp);
    expect(options.store).toBeDefined();
    expect(options.storesFor?.('https://ark.cn-beijing.volces.com/api/v3')).toBe(true);
    expect(options.storesFor?.('http://127.0.0.1:8080/api/v3')).toBe(false);
  });

  it('an explicit folder caches every origin; false is none', () => {
    const explicit = certificateSourceOptions({ cacheDir: folder, env: {} }, noHttp);
    expect(explicit.store).toBeDefined();
    expect(explicit.storesFor).toBeUndefined();
    expect(certificateSourceOptions({ cacheDir: false, env: {} }, noHttp).store).toBeUndefined();
  });

  it('without onWarning, a cache warning goes to console.warn, named as the library\'s', async () => {
    const notAFolder = join(folder, 'a-file');
    writeFileSync(notAFolder, 'x');
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      const { store } = certificateSourceOptions({ cacheDir: join(notAFolder, 'cache'), env: {} }, noHttp);
      await store!.write('https://ark.example.test/api/v3', 'm', certificate.pem);
      expect(warn).toHaveBeenCalled();
      expect(String(warn.mock.calls[0]![0])).toMatch(/^ark-e2ee: cannot write the certificate/);
    } finally {
      warn.mockRestore();
    }
  });
});

describe('whether the origin chooses the certificate', () => {
  const chooses = (options: ConstructorParameters<typeof ArkEncryptor>[0]): boolean =>
    new ArkEncryptor({ cacheDir: false, env: {}, ...options }, noHttp, loadNoble).originChoosesCertificate;

  it('it does with none of certificate, E2E_CERTIFICATE_PATH, pins or trust anchors; each of them fixes it', () => {
    expect(chooses({})).toBe(true);
    expect(chooses({ certificate: certificate.pem })).toBe(false);
    expect(chooses({ env: { E2E_CERTIFICATE_PATH: join(folder, 'model.pem') } })).toBe(false);
    expect(chooses({ pinnedKeys: [pin] })).toBe(false);
    expect(chooses({ trustAnchors: certificate.pem })).toBe(false);
  });
});

describe('the answer and the options the encryptor passes on', () => {
  it('a content_filter text passed on in plain is reported to onPlainText', async () => {
    const notices: unknown[] = [];
    const { encryptedFetch } = wrapped({ certificate: certificate.pem, onPlainText: (n) => notices.push(n) }, () =>
      new Response(JSON.stringify({ choices: [{ index: 0, finish_reason: 'content_filter', message: { content: 'filtered notice' } }] }), {
        status: 200, headers: { 'content-type': 'application/json' } }));
    await (await encryptedFetch(CHAT, post)).text();
    expect(notices).toEqual([{ choiceIndex: 0, field: 'content', text: 'filtered notice', reason: 'content_filter' }]);
  });

  it('a bad maxAnswerBytes or maxEventBytes is named when the client is made', () => {
    expect(() => createEncryptedFetch({ maxAnswerBytes: 0 })).toThrow('maxAnswerBytes must be a whole number ≥ 1 (or Infinity for no limit), got 0');
    expect(() => createEncryptedFetch({ maxEventBytes: 1.5 })).toThrow('maxEventBytes must be a whole number ≥ 1 (or Infinity for no limit), got 1.5');
  });

  it('a maxCertificateBytes that is not a positive whole number is refused when the client is made, naming the value', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, 2 ** 53, Number.POSITIVE_INFINITY, '5' as unknown as number]) {
      let caught: unknown;
      try {
        createEncryptedFetch({ maxCertificateBytes: bad, cacheDir: false });
      } catch (error) {
        caught = error;
      }
      expect(caught, String(bad)).toBeInstanceOf(InvalidOptionError);
      expect((caught as InvalidOptionError).code).toBe('ERR_ARK_E2EE_INVALID_OPTION');
      expect((caught as Error).message).toBe(`maxCertificateBytes must be a positive whole number of bytes, not ${String(bad)}`);
    }
    expect(maxCertificateBytesOf({ maxCertificateBytes: 1 })).toBe(1);
    expect(maxCertificateBytesOf({ maxCertificateBytes: 2 ** 53 - 1 })).toBe(2 ** 53 - 1);
    expect(maxCertificateBytesOf({})).toBeUndefined();
  });

  it('a streamed answer gets maxEventBytes and onPlainText too', async () => {
    const streamed = (events: string[]) => new Response(events.map((data) => `data: ${data}\n\n`).join(''), {
      status: 200, headers: { 'content-type': 'text/event-stream' } });
    const notices: unknown[] = [];
    const filtered = wrapped({ certificate: certificate.pem, onPlainText: (n) => notices.push(n) }, () => streamed([
      JSON.stringify({ choices: [{ index: 0, finish_reason: 'content_filter', delta: { content: 'filtered in a stream' } }] }),
      '[DONE]',
    ]));
    await (await filtered.encryptedFetch(CHAT, post)).text();
    expect(notices).toEqual([{ choiceIndex: 0, field: 'content', text: 'filtered in a stream', reason: 'content_filter' }]);

    // An event that does not end within the limit.
    const bounded = wrapped({ certificate: certificate.pem, maxEventBytes: 64 }, () =>
      new Response(`data: {"choices":[{"index":0,"delta":{"content":"${'A'.repeat(200)}`, {
        status: 200, headers: { 'content-type': 'text/event-stream' } }));
    const error = await (await bounded.encryptedFetch(CHAT, post)).text().catch((e: unknown) => e);
    expect((error as Error).message).toContain('longer than 64 characters (maxEventBytes)');
  });

  it('the refusal of a request the protocol does not cover names what it does cover', async () => {
    const { encryptedFetch } = wrapped({ certificate: certificate.pem });
    const error = await encryptedFetch('https://ark.example.test/api/v3/embeddings', post).catch((e: unknown) => e);
    expect((error as Error).message).toBe(
      'x-is-encrypted: true is set on POST /api/v3/embeddings, which the encryption protocol does not cover (only POST ' +
        '…/chat/completions and …/batch/chat/completions); nothing was sent. Remove the header from this request.',
    );
  });
});
