/**
 * Property (issue 10 §5): for any header form and any `x-is-encrypted` values fast-check builds,
 * a request through createEncryptedFetch, the undici interceptor or the proxy is encrypted (a
 * session token on the wire, the text nowhere), refused (a typed error, nothing sent), or, only
 * when every value is `false` or there is none, sent as it was. The verdict expected is the
 * rule of docs/protocol.md §6, written independently in test/helpers/header-forms.ts.
 */
import fc from 'fast-check';
import { Agent, request as undiciRequest, type Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArkE2EEError, UnsupportedRequestError } from '../../src/errors.js';
import { arkEncryption, createEncryptedFetch } from '../../src/index.js';
import { MOCK_MODELS, startMockArkServer, type MockArkServer } from '../../src/testing/index.js';
import { startEncryptingProxy, type EncryptingProxy } from '../../src/transport/proxy.js';
import { buildHeaders, expectedVerdict, headerForms, switchEntries, type Verdict } from '../helpers/header-forms.js';
import { rawRequest } from '../helpers/raw-http.js';
import { fuzzParameters, fuzzTimeout } from './settings.js';

const API_KEY = 'switch-property-key';
let server: MockArkServer;
let proxy: EncryptingProxy;
let agent: Dispatcher;
let encryptedFetch: typeof fetch;
let run = 0;

beforeAll(async () => {
  server = await startMockArkServer({ apiKey: API_KEY });
  const options = { cacheDir: false as const, onWarning: () => undefined };
  encryptedFetch = createEncryptedFetch({ ...options, errors: 'throw' });
  agent = new Agent().compose(arkEncryption(options));
  proxy = await startEncryptingProxy({ upstream: server.url, ...options });
});
afterAll(async () => {
  await Promise.all([proxy.close(), agent.close()]);
  await server.close();
});

interface Sent {
  error?: unknown;
}

/** What happened to one request carrying `text`, read from the server's record. */
function observed(before: number, text: string, raw: string, result: Sent): Verdict {
  const reached = server.requests.slice(before).filter((r) => r.path.endsWith('/chat/completions'));
  if (result.error !== undefined) {
    expect(result.error).toBeInstanceOf(UnsupportedRequestError);
    expect(reached).toEqual([]);
    return 'refuse';
  }
  expect(reached).toHaveLength(1);
  const sent = reached[0]!;
  if (sent.headers['x-session-token'] !== undefined) {
    expect(sent.body).not.toContain(text);
    expect(sent.headers['x-is-encrypted']).toBe('true');
    return 'encrypt';
  }
  // Sent as it was: then nothing on the wire may read as true.
  expect(sent.body).toBe(raw);
  const wire = sent.headers['x-is-encrypted'];
  if (wire !== undefined) expect(wire.split(',').every((item) => item.trim().toLowerCase() === 'false')).toBe(true);
  return 'pass';
}

/** How often each verdict came up, per transport: each must, for the property to mean something. */
const seen = new Map<string, Set<Verdict>>();
function count(transport: string, verdict: Verdict): Verdict {
  if (!seen.has(transport)) seen.set(transport, new Set());
  seen.get(transport)!.add(verdict);
  return verdict;
}

function typed(error: unknown): unknown {
  if (error instanceof ArkE2EEError) return error;
  return (error as { cause?: unknown }).cause ?? error;
}

const RUNS = 60;
/** Over the network: FUZZ_RUNS (npm run fuzz) is capped so that a deep run stays minutes long. */
const parameters = (): { seed: number; numRuns: number } => {
  const base = fuzzParameters(RUNS);
  return { ...base, numRuns: Math.min(base.numRuns, 2_000) };
};

describe('property: the switch through every transport', () => {
  const cases = fc.record({
    form: fc.constantFrom(...headerForms),
    entries: switchEntries,
  });

  it('createEncryptedFetch', async () => {
    await fc.assert(
      fc.asyncProperty(cases, async ({ form, entries }) => {
        const headers = buildHeaders(form, entries, { authorization: `Bearer ${API_KEY}` });
        fc.pre(headers !== undefined);
        const text = `PROP-${run++}-secret`;
        const raw = JSON.stringify({ model: MOCK_MODELS.default, messages: [{ role: 'user', content: text }] });
        const before = server.requests.length;
        const result: Sent = {};
        try {
          await (await encryptedFetch(`${server.url}/chat/completions`, { method: 'POST', headers: headers as HeadersInit, body: raw })).text();
        } catch (error) {
          result.error = typed(error);
        }
        expect(count('fetch', observed(before, text, raw, result))).toBe(expectedVerdict(entries.map((e) => e.value)));
      }),
      parameters(),
    );
    expect(seen.get('fetch')?.size).toBe(3);
  }, fuzzTimeout(RUNS, 50));

  it('the undici interceptor', async () => {
    await fc.assert(
      fc.asyncProperty(cases.filter(({ form }) => form !== 'own Headers'), async ({ form, entries }) => {
        const built = buildHeaders(form, entries, { authorization: `Bearer ${API_KEY}` });
        fc.pre(built !== undefined);
        // undici takes a flat ['name', 'value', …] array, not pairs.
        const headers = form === 'pairs' ? (built as string[][]).flat() : built;
        const text = `PROP-${run++}-secret`;
        const raw = JSON.stringify({ model: MOCK_MODELS.default, messages: [{ role: 'user', content: text }] });
        const before = server.requests.length;
        const result: Sent = {};
        try {
          const answer = await undiciRequest(`${server.url}/chat/completions`, {
            dispatcher: agent, method: 'POST', headers: headers as Record<string, string>, body: raw,
          });
          await answer.body.text();
        } catch (error) {
          result.error = typed(error);
        }
        expect(count('undici', observed(before, text, raw, result))).toBe(expectedVerdict(entries.map((e) => e.value)));
      }),
      parameters(),
    );
    expect(seen.get('undici')?.size).toBe(3);
  }, fuzzTimeout(RUNS, 50));

  it('the proxy (header lines as written)', async () => {
    await fc.assert(
      fc.asyncProperty(switchEntries, fc.boolean(), async (entries, connection) => {
        const text = `PROP-${run++}-secret`;
        const raw = JSON.stringify({ model: MOCK_MODELS.default, messages: [{ role: 'user', content: text }] });
        const lines: Array<[string, string]> = [['authorization', `Bearer ${API_KEY}`], ['content-type', 'application/json']];
        for (const { name, value } of entries) lines.push([name, value.trim()]);
        // Naming the switch as hop-by-hop must change nothing.
        if (connection) lines.push(['Connection', 'close, x-is-encrypted']);
        const before = server.requests.length;
        const answer = await rawRequest(proxy.port, 'POST', '/chat/completions', lines, raw);
        const result: Sent = {};
        if (answer.status === 400) {
          const code = (JSON.parse(answer.body) as { error: { code: string } }).error.code;
          result.error = code === 'ERR_ARK_E2EE_UNSUPPORTED_REQUEST' ? new UnsupportedRequestError(code) : new Error(code);
        } else {
          expect(answer.status).toBe(200);
        }
        const verdict = count('proxy', observed(before, text, raw, result));
        // Through the proxy, a false named in Connection is dropped on the way: still not true.
        expect(verdict).toBe(expectedVerdict(entries.map((e) => e.value)));
      }),
      parameters(),
    );
    expect(seen.get('proxy')?.size).toBe(3);
  }, fuzzTimeout(RUNS, 50));
});
