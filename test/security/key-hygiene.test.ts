/**
 * Key hygiene (issue 7): ephemeral keys are never reused (10 000 sessions → 10 000 tokens);
 * errors thrown in realistic failures carry no key, nonce, plaintext or API key (in their message,
 * `String`, `JSON.stringify`, `util.inspect`, or anywhere reachable from them); nothing logged
 * during full encrypted round trips carries them either; and no session outlives its request in
 * the library's own state (checked on the object graph and on the source: no module-level cache).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { format, inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  CertificateUnavailableError,
  DecryptionFailedError,
  InvalidCertificateError,
  UnsupportedContentError,
  createEncryptedFetch,
  createSession,
  decryptChatCompletion,
  decryptEventStream,
  encryptChatRequest,
  parseCertificate,
  type Session,
} from '../../src/index.js';
import { certificateHttpOverFetch } from '../../src/certificates/service.js';
import { loadNoble } from '../../src/crypto/select.js';
import { ArkEncryptor } from '../../src/transport/encryptor.js';
import { startMockArkServer, type MockArkServer } from '../../src/testing/index.js';
import { deriveServerSession } from '../../src/testing/service-crypto.js';
import { makeCertificate } from '../helpers/make-certificate.js';

const API_KEY = 'sk-hygiene-0123456789abcdef';
const SECRET = 'my card number is 4111 1111 1111 1111';
const SECRET_2 = 'the launch code is 0000-TOP-SECRET';
const CERTIFICATE = parseCertificate(makeCertificate().pem);

// ---------------------------------------------------------------------------------------------
// What must never show

interface Secrets {
  bytes: Uint8Array[];
  texts: string[];
}

/** Every usual text form of `bytes`: hex (both cases), base64 and base64url (unpadded, so a
 * padded occurrence matches too), and the comma list `util.inspect` prints for a Uint8Array. */
function formsOf(bytes: Uint8Array): string[] {
  const buffer = Buffer.from(bytes);
  const hex = buffer.toString('hex');
  return [hex, hex.toUpperCase(), buffer.toString('base64').replace(/=+$/, ''), buffer.toString('base64url'), [...bytes].slice(0, 6).join(', ')];
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, index) => byte === b[index]);
}

/** Every object reachable from `root` through own properties (hidden ones too), Map and Set entries. */
function reachable(root: unknown, limit = 100_000): unknown[] {
  const seen = new Set<unknown>();
  const queue: unknown[] = [root];
  while (queue.length > 0 && seen.size < limit) {
    const value = queue.shift();
    if (value === null || (typeof value !== 'object' && typeof value !== 'function') || seen.has(value)) continue;
    seen.add(value);
    if (ArrayBuffer.isView(value)) continue;
    if (value instanceof Map) for (const [key, entry] of value) queue.push(key, entry);
    if (value instanceof Set) for (const entry of value) queue.push(entry);
    for (const key of Reflect.ownKeys(value)) {
      const descriptor = Object.getOwnPropertyDescriptor(value, key);
      if (descriptor && 'value' in descriptor) queue.push(descriptor.value);
    }
  }
  return [...seen];
}

function expectNoSecrets(error: unknown, secrets: Secrets): void {
  expect(error).toBeInstanceOf(Error);
  const renderings = [
    (error as Error).message,
    String(error),
    JSON.stringify(error),
    inspect(error, { depth: Infinity, showHidden: true }),
    (error as Error).stack ?? '',
  ];
  const needles = [...secrets.texts, ...secrets.bytes.flatMap(formsOf)];
  for (const rendering of renderings) {
    for (const needle of needles) expect(rendering, `an error rendering shows ${needle}`).not.toContain(needle);
  }
  for (const value of reachable(error)) {
    // No bytes at all hang off an error, let alone the key or nonce.
    expect(value instanceof Uint8Array, 'an error holds a Uint8Array').toBe(false);
    if (typeof value === 'object' && value !== null) {
      for (const entry of Object.values(value)) {
        if (typeof entry === 'string') for (const needle of needles) expect(entry).not.toContain(needle);
      }
    }
  }
}

function caught(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

/** The ciphertext with its first base64 character changed: still canonical, no longer authentic. */
const tamper = (ciphertext: string): string => (ciphertext[0] === 'A' ? 'B' : 'A') + ciphertext.slice(1);

const sessionSecrets = (session: Pick<Session, 'key' | 'nonce'>, ...texts: string[]): Secrets => ({
  bytes: [session.key, session.nonce],
  texts: [SECRET, SECRET_2, API_KEY, ...texts],
});

// ---------------------------------------------------------------------------------------------

describe('ephemeral keys are never reused', () => {
  it('10 000 sessions with the node backend: 10 000 distinct tokens and keys', () => {
    const tokens = new Set<string>();
    const keys = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const session = createSession(CERTIFICATE, { backend: 'node' });
      tokens.add(session.token);
      keys.add(Buffer.from(session.key).toString('hex'));
    }
    expect(tokens.size).toBe(10_000);
    expect(keys.size).toBe(10_000);
  });

  it('1 000 sessions with the noble backend: 1 000 distinct tokens and keys', () => {
    const tokens = new Set<string>();
    const keys = new Set<string>();
    for (let i = 0; i < 1_000; i++) {
      const session = createSession(CERTIFICATE, { backend: 'noble' });
      tokens.add(session.token);
      keys.add(Buffer.from(session.key).toString('hex'));
    }
    expect(tokens.size).toBe(1_000);
    expect(keys.size).toBe(1_000);
  });
});

describe('errors carry no key material, plaintext or API key', () => {
  it('DecryptionFailedError: a tampered text, a chat completion, an event stream', async () => {
    const session = createSession(CERTIFICATE);
    const ciphertext = session.encryptText(SECRET);
    expectNoSecrets(caught(() => session.decryptText(tamper(ciphertext))), sessionSecrets(session));
    expectNoSecrets(caught(() => session.decryptText('not base64!')), sessionSecrets(session));

    const pieces = session.encryptText(SECRET) + tamper(session.encryptText(SECRET_2));
    const error = caught(() => decryptChatCompletion({ choices: [{ index: 0, message: { role: 'assistant', content: pieces } }] }, session));
    expect(error).toBeInstanceOf(DecryptionFailedError);
    expectNoSecrets(error, sessionSecrets(session));

    const event = `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: tamper(session.encryptText(SECRET)) } }] })}\n\n`;
    const stream = new Response(event).body!;
    const streamError = await new Response(decryptEventStream(stream, session)).text().catch((e: unknown) => e);
    expect(streamError).toBeInstanceOf(DecryptionFailedError);
    expectNoSecrets(streamError, sessionSecrets(session));
  });

  it('UnsupportedContentError: an unknown part, a lone surrogate, an ftp image, next to secret texts', () => {
    const session = createSession(CERTIFICATE);
    const bodies = [
      { model: 'm', messages: [{ role: 'user', content: SECRET }, { role: 'user', content: [{ type: 'text', text: SECRET }, { type: 'audio', data: SECRET_2 }] }] },
      { model: 'm', messages: [{ role: 'user', content: `${SECRET}\uD800${SECRET_2}` }] },
      { model: 'm', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: `ftp://host/${encodeURIComponent(SECRET_2)}` } }] }] },
      { model: 'm', messages: [{ role: 'user', content: { text: SECRET } }] },
    ];
    for (const body of bodies) {
      const error = caught(() => encryptChatRequest(body, session, { onWarning: () => undefined }));
      expect(error).toBeInstanceOf(UnsupportedContentError);
      expectNoSecrets(error, { ...sessionSecrets(session), texts: [SECRET, SECRET_2, encodeURIComponent(SECRET_2)] });
    }
  });

  it('InvalidCertificateError: a PEM whose body is not a certificate (made from a secret text)', () => {
    expectNoSecrets(caught(() => parseCertificate(`-----BEGIN CERTIFICATE-----\n${Buffer.from(SECRET).toString('base64')}\n-----END CERTIFICATE-----`)), {
      bytes: [],
      texts: [SECRET],
    });
  });

  describe('through createEncryptedFetch against the mock server', () => {
    let server: MockArkServer;
    beforeAll(async () => {
      server = await startMockArkServer({ apiKey: API_KEY });
    });
    afterAll(async () => {
      await server.close();
    });
    beforeEach(() => {
      vi.stubEnv('E2E_CERTIFICATE_PATH', '');
      vi.stubEnv('VOLC_ARK_ENCRYPTION', '');
      server.requests.length = 0;
    });
    afterEach(() => {
      vi.unstubAllEnvs();
    });

    const send = (fetchFn: typeof fetch, { key = API_KEY, stream = false } = {}): Promise<Response> =>
      fetchFn(`${server.url}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'x-is-encrypted': 'true', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'mock-model', stream, messages: [{ role: 'system', content: SECRET_2 }, { role: 'user', content: SECRET }] }),
      });

    /** The key and nonce of the last encrypted request the server got. */
    const lastSession = (): { key: Uint8Array; nonce: Uint8Array } => {
      const request = server.requests.filter((r) => r.path.endsWith('/chat/completions')).at(-1);
      return deriveServerSession(server.privateKey, request!.headers['x-session-token']!);
    };

    /** A fetch that changes the first ciphertext of each chat answer on the way back. */
    const tamperingFetch: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (!String(input).endsWith('/chat/completions') || !response.ok) return response;
      let done = false;
      const text = (await response.text()).replace(/"content":"([A-Za-z0-9+/=]{24,})"/, (match, ciphertext: string) => {
        if (done) return match;
        done = true;
        return `"content":"${tamper(ciphertext)}"`;
      });
      return new Response(text, { status: response.status, headers: response.headers });
    };

    it('DecryptionFailedError from a tampered answer, non-streamed and streamed', async () => {
      const fetchFn = createEncryptedFetch({ errors: 'throw', cacheDir: false, fetch: tamperingFetch });
      const error = await send(fetchFn).then((r) => r.text()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DecryptionFailedError);
      expectNoSecrets(error, sessionSecrets(lastSession(), `echo: ${SECRET}`));

      const streamed = await send(fetchFn, { stream: true }).then((r) => r.text()).catch((e: unknown) => e);
      expect(streamed).toBeInstanceOf(DecryptionFailedError);
      expectNoSecrets(streamed, sessionSecrets(lastSession(), 'echo: '.concat(SECRET.slice(0, 3))));
    });

    it('InvalidCertificateError from a pin mismatch and from an untrusted root: nothing sent', async () => {
      const otherPin = Buffer.alloc(32, 7).toString('base64');
      const root = makeCertificate({ commonName: 'Some Root', ca: true });
      for (const options of [{ pinnedKeys: [otherPin] }, { trustAnchors: root.pem }]) {
        const error = await send(createEncryptedFetch({ errors: 'throw', cacheDir: false, ...options })).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(InvalidCertificateError);
        expectNoSecrets(error, { bytes: [], texts: [SECRET, SECRET_2, API_KEY] });
      }
      expect(server.requests.filter((r) => r.path.endsWith('/chat/completions'))).toHaveLength(0);
    });

    it('CertificateUnavailableError from a refused API key and from an unreachable service', async () => {
      const wrongKey = 'sk-wrong-key-fedcba9876543210';
      const refused = await send(createEncryptedFetch({ errors: 'throw', cacheDir: false }), { key: wrongKey }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(CertificateUnavailableError);
      expectNoSecrets(refused, { bytes: [], texts: [SECRET, SECRET_2, API_KEY, wrongKey] });

      const unreachable = createEncryptedFetch({ errors: 'throw', cacheDir: false });
      const error = await unreachable('http://127.0.0.1:9/api/v3/chat/completions', {
        method: 'POST',
        headers: { authorization: `Bearer ${API_KEY}`, 'x-is-encrypted': 'true' },
        body: JSON.stringify({ model: 'mock-model', messages: [{ role: 'user', content: SECRET }] }),
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CertificateUnavailableError);
      expectNoSecrets(error, { bytes: [], texts: [SECRET, API_KEY] });
    });

    it('UnsupportedContentError from a request the protocol cannot carry: nothing sent', async () => {
      const fetchFn = createEncryptedFetch({ errors: 'throw', cacheDir: false });
      const error = await fetchFn(`${server.url}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_KEY}`, 'x-is-encrypted': 'true' },
        body: JSON.stringify({ model: 'mock-model', messages: [{ role: 'user', content: [{ type: 'text', text: SECRET }, { type: 'file', data: SECRET_2 }] }] }),
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnsupportedContentError);
      expectNoSecrets(error, { bytes: [], texts: [SECRET, SECRET_2, API_KEY] });
      expect(server.requests.filter((r) => r.path.endsWith('/chat/completions'))).toHaveLength(0);
    });

    it('nothing logged during full round trips (with an http image warning) shows a key, nonce, plaintext or the API key', async () => {
      const logged: string[] = [];
      const methods = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;
      const spies = methods.map((method) =>
        vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
          logged.push(format(...args));
        }),
      );
      const sessions: { key: Uint8Array; nonce: Uint8Array }[] = [];
      try {
        const fetchFn = createEncryptedFetch({ errors: 'throw', cacheDir: false }); // default onWarning: console.warn
        for (const stream of [false, true]) {
          const response = await fetchFn(`${server.url}/chat/completions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${API_KEY}`, 'x-is-encrypted': 'true', 'content-type': 'application/json' },
            body: JSON.stringify({
              model: 'mock-model',
              stream,
              messages: [
                { role: 'system', content: SECRET_2 },
                { role: 'user', content: [{ type: 'text', text: SECRET }, { type: 'image_url', image_url: { url: 'http://images.example/cat.png' } }] },
              ],
            }),
          });
          const text = await response.text();
          const contents = [...text.matchAll(/"content":"((?:[^"\\]|\\.)*)"/g)].map((match) => JSON.parse(`"${match[1]}"`) as string);
          expect(contents.join('')).toContain(`echo: ${SECRET}`);
          sessions.push(lastSession());
        }
        const tokens = server.requests.filter((r) => r.path.endsWith('/chat/completions')).map((r) => r.headers['x-session-token']);
        expect(new Set(tokens).size).toBe(2);
      } finally {
        for (const spy of spies) spy.mockRestore();
      }
      expect(logged.some((line) => line.includes('http image URL'))).toBe(true);
      const needles = [SECRET, SECRET_2, API_KEY, ...sessions.flatMap((s) => [...formsOf(s.key), ...formsOf(s.nonce)])];
      for (const line of logged) for (const needle of needles) expect(line).not.toContain(needle);
    });

    it('the encryptor keeps no session (nor its key or nonce) once a request is done', async () => {
      const encryptor = new ArkEncryptor({ cacheDir: false, onWarning: () => undefined }, certificateHttpOverFetch(fetch), loadNoble);
      const used: Session[] = [];
      for (let i = 0; i < 3; i++) {
        const { body, headers, session } = await encryptor.encryptRequest({
          method: 'POST',
          url: `${server.url}/chat/completions`,
          headers: new Headers({ authorization: `Bearer ${API_KEY}` }),
          body: JSON.stringify({ model: 'mock-model', messages: [{ role: 'user', content: SECRET }] }),
        });
        const response = await fetch(`${server.url}/chat/completions`, { method: 'POST', headers, body });
        expect(encryptor.decryptJsonText(await response.text(), session)).toContain(`echo: ${SECRET}`);
        used.push(session);
      }
      const held = reachable(encryptor);
      for (const session of used) {
        expect(held).not.toContain(session);
        for (const value of held) {
          if (value instanceof Uint8Array) {
            expect(sameBytes(value, session.key)).toBe(false);
            expect(sameBytes(value, session.nonce)).toBe(false);
          }
          if (typeof value === 'object' && value !== null) {
            for (const entry of Object.values(value)) {
              if (typeof entry === 'string') expect(entry).not.toContain(SECRET);
            }
          }
        }
      }
    });
  });
});

describe('no module-level cache that could hold a session', () => {
  /**
   * Module-level mutable state in src/ (the CLI and the mock server aside): `let`/`var`, and
   * containers made at module level. Each must be a constant lookup table (a container built from
   * literal contents), a WeakMap / WeakSet (which keeps no key alive), a reviewed container that
   * holds only public data, or a `let` whose type says it holds no session or bytes. A new one that is
   * not fails here, to be looked at: sessions and keys must live only as long as their request.
   */
  /** Reviewed module-level containers that hold no secret: `file:name` → why. */
  const REVIEWED: Readonly<Record<string, string>> = {
    'crypto/noble.ts:peers': 'decoded certificate public points (public data), at most 4, for ECDH speed',
    'protocol/request.ts:warned': 'which kinds of default warning were printed: at most three constant names',
  };

  it('every module-level let/var and container in src/ is a lookup table or holds no session', async () => {
    const root = join(import.meta.dirname, '../../src');
    const files = (await readdir(root, { recursive: true }))
      .filter((file) => file.endsWith('.ts') && !file.startsWith('testing') && !file.startsWith('cli'))
      .map((file) => join(root, file));
    const suspicious: string[] = [];
    let declarations = 0;
    for (const file of files) {
      const lines = (await readFile(file, 'utf8')).split('\n');
      for (const [index, line] of lines.entries()) {
        const where = `${relative(root, file)}:${index + 1}: ${line.trim()}`;
        if (/\b(FinalizationRegistry|WeakRef)\b/.test(line)) suspicious.push(where);
        const mutable = /^(?:export )?(?:let|var)\s+\w+\s*(?::\s*([^=;]+))?(?:=\s*(.+?))?;?$/.exec(line);
        if (mutable) {
          declarations++;
          const [, type, initial] = mutable;
          const literal = initial !== undefined && /^(true|false|null|undefined|-?\d+|'[^']*'|"[^"]*")$/.test(initial.trim());
          const harmless = type !== undefined && !/Session|Uint8Array|ArrayBuffer|unknown|any|Map|Set|\[\]|Array|Record/.test(type);
          if (!literal && !harmless) suspicious.push(where);
          continue;
        }
        const container = /^(?:export )?const\s+(\w+)[^=]*=\s*(new\s+(?:Map|Set|WeakMap|WeakSet|Array)\b.*|\[\s*\];?|\{\s*\};?)$/.exec(line);
        if (container) {
          declarations++;
          // `new Set([…literal contents…])` is a lookup table; an empty container is a cache.
          const lookupTable = /^new\s+(?:Map|Set)\b[^(]*\(\s*\[/.test(container[2] ?? '');
          // A WeakMap / WeakSet keeps nothing alive: an entry (e.g. per-session tables) dies with its key.
          const weak = /^new\s+Weak(?:Map|Set)\b/.test(container[2] ?? '');
          if (!lookupTable && !weak && REVIEWED[`${relative(root, file)}:${container[1]}`] === undefined) suspicious.push(where);
        }
      }
    }
    expect(files.length).toBeGreaterThan(10);
    expect(declarations).toBeGreaterThan(0); // the scan does find module-level state
    expect(suspicious).toEqual([]);
  });
});
