/**
 * Fuzz (issue 7): random mutations inside the ciphertexts of valid answers (characters flipped,
 * inserted or deleted, the text cut short, several at once), non-streamed (contents of several
 * ciphertexts end to end) and streamed: always detected, with a typed error, unless the result is
 * nothing but whole original ciphertexts. That class is the protocol's limit, shown here too:
 * whole ciphertexts swapped, repeated or dropped decrypt without error to the rearranged text,
 * since one key and one nonce serve the whole request and nothing binds a ciphertext to its place
 * (docs/protocol.md §7, docs/security.md).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DecryptionFailedError,
  EventStreamError,
  decryptChatCompletion,
  decryptEventStream,
  sessionFromKey,
} from '../../src/index.js';
import { serverEncrypt } from '../helpers/server-crypto.js';
import { fuzzParameters, fuzzTimeout } from './settings.js';

const KEY = new Uint8Array(32).map((_, i) => (i * 13 + 1) & 0xff);
const NONCE = new Uint8Array(12).map((_, i) => 40 + i);
const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

const unit = fc.oneof(
  fc.constantFrom('a', 'Z', ' ', '中', '文', '😀', '=', '"'),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
);
const pieceText = fc.string({ unit, minLength: 1, maxLength: 16 });
/** Lengthened until its ciphertext has no `=` padding, so pieces run into each other. */
const unpadded = (s: string): string => ((Buffer.byteLength(s) + 16) % 3 === 0 ? s : unpadded(`${s}a`));
const texts = fc
  .array(fc.tuple(pieceText, fc.boolean()), { minLength: 1, maxLength: 8 })
  .map((list) => list.map(([text, force]) => (force ? unpadded(text) : text)));

type Mutation =
  | { kind: 'flip'; at: number; to: string }
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'cut'; length: number };

const character = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...BASE64) }, fc.constantFrom('=', '-', '_', ' ', '\n', '"', '中', '\0'));
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), to: character }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.string({ unit: character, minLength: 1, maxLength: 6 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant('cut' as const), length: fc.integer({ min: 1, max: 40 }) }),
);

function mutate(text: string, mutations: readonly Mutation[]): string {
  let out = text;
  for (const m of mutations) {
    const at = m.kind === 'cut' ? 0 : m.at % (out.length + 1);
    if (m.kind === 'flip' && at < out.length) out = out.slice(0, at) + m.to + out.slice(at + 1);
    else if (m.kind === 'insert') out = out.slice(0, at) + m.text + out.slice(at);
    else if (m.kind === 'delete') out = out.slice(0, at) + out.slice(at + m.length);
    else if (m.kind === 'cut') out = out.slice(0, Math.max(0, out.length - m.length));
  }
  return out;
}

/**
 * The texts of `content` if it is nothing but whole ciphertexts from `known` (ciphertext → text)
 * laid end to end; `undefined` otherwise. With one key and nonce a text has one ciphertext.
 */
function asWholeCiphertexts(content: string, known: ReadonlyMap<string, string>): string[] | undefined {
  const routes: (string[] | undefined)[] = [[]];
  for (let at = 0; at < content.length; at++) {
    const route = routes[at];
    if (route === undefined) continue;
    for (const [ciphertext, text] of known) {
      if (content.startsWith(ciphertext, at) && routes[at + ciphertext.length] === undefined) {
        routes[at + ciphertext.length] = [...route, text];
      }
    }
  }
  return routes[content.length];
}

const completion = (content: string): unknown => ({
  id: 'x', object: 'chat.completion', choices: [{ index: 3, finish_reason: 'stop', message: { role: 'assistant', content } }],
});
const contentOf = (body: unknown): unknown => (body as { choices: { message: { content: unknown } }[] }).choices[0]!.message.content;

const chunkEvent = (content: string): string =>
  `data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;

async function readStream(wire: string, session: ReturnType<typeof sessionFromKey>): Promise<{ contents: string[]; error: unknown }> {
  const source = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(wire));
      controller.close();
    },
  });
  const reader = decryptEventStream(source, session).getReader();
  let text = '';
  let error: unknown;
  try {
    for (let r = await reader.read(); !r.done; r = await reader.read()) text += Buffer.from(r.value).toString('utf8');
  } catch (caught) {
    error = caught;
  }
  const contents = text
    .split('\n\n')
    .map((event) => event.replace(/^data: /, ''))
    .filter((data) => data !== '' && data !== '[DONE]')
    .map((data) => (JSON.parse(data) as { choices: { delta: { content: string } }[] }).choices[0]!.delta.content);
  return { contents, error };
}

describe.each(['node', 'noble'] as const)('fuzz, %s backend: mutations inside ciphertexts', (backend) => {
  const session = sessionFromKey(KEY, NONCE, { backend });
  const parameters = fuzzParameters(backend === 'node' ? 500 : 150);

  it('non-streamed, several ciphertexts end to end: every mutation is detected, unless only whole ciphertexts remain', () => {
    let detected = 0;
    fc.assert(
      fc.property(texts, fc.array(mutation, { minLength: 1, maxLength: 3 }), (plain, mutations) => {
        const pieces = plain.map((t) => serverEncrypt(KEY, NONCE, t));
        const original = pieces.join('');
        const altered = mutate(original, mutations);
        fc.pre(altered !== original);
        const whole = asWholeCiphertexts(altered, new Map(pieces.map((p, i) => [p, plain[i]!])));
        let result: unknown;
        try {
          result = decryptChatCompletion(completion(altered), session);
        } catch (error) {
          expect(error).toBeInstanceOf(DecryptionFailedError);
          expect((error as DecryptionFailedError).choiceIndex).toBe(3);
          expect(whole === undefined || whole.length === 0).toBe(true);
          detected++;
          return;
        }
        // Not detected: only possible when nothing but whole ciphertexts is left (or nothing).
        if (altered === '') expect(contentOf(result)).toBe('');
        else expect(contentOf(result)).toBe(whole!.join(''));
      }),
      parameters,
    );
    expect(detected).toBeGreaterThan(parameters.numRuns / 2);
  }, fuzzTimeout(500, 3));

  it('streamed: a mutated chunk fails the stream with a DecryptionFailedError after the chunks before it', async () => {
    await fc.assert(
      fc.asyncProperty(texts, fc.nat(), fc.array(mutation, { minLength: 1, maxLength: 3 }), async (plain, which, mutations) => {
        const pieces = plain.map((t) => serverEncrypt(KEY, NONCE, t));
        const target = which % pieces.length;
        const altered = mutate(pieces[target]!, mutations);
        fc.pre(altered !== pieces[target]);
        const wire = pieces.map((p, i) => chunkEvent(i === target ? altered : p)).join('') + 'data: [DONE]\n\n';
        const whole = asWholeCiphertexts(altered, new Map(pieces.map((p, i) => [p, plain[i]!])));
        const { contents, error } = await readStream(wire, session);
        if (whole === undefined) {
          expect(error).toBeInstanceOf(DecryptionFailedError);
          expect(contents).toEqual(plain.slice(0, target));
        } else {
          // The chunk became whole other ciphertexts (or empty): undetectable, see below.
          expect(error).toBeUndefined();
          expect(contents).toEqual([...plain.slice(0, target), ...(altered === '' ? [''] : [whole.join('')]), ...plain.slice(target + 1)]);
        }
      }),
      parameters,
    );
  }, fuzzTimeout(500, 5));
});

describe('the protocol\'s limit (§7): whole ciphertexts swapped, repeated or dropped are not detectable', () => {
  const session = sessionFromKey(KEY, NONCE);
  const parameters = fuzzParameters(200);
  const rearrangement = (length: number) => fc.array(fc.nat({ max: length - 1 }), { minLength: 1, maxLength: 2 * length + 1 });

  it('non-streamed: any sequence of the original pieces decrypts, without error, to the same sequence of texts', () => {
    fc.assert(
      fc.property(texts.chain((plain) => fc.tuple(fc.constant(plain), rearrangement(plain.length))), ([plain, order]) => {
        const pieces = plain.map((t) => serverEncrypt(KEY, NONCE, t));
        const forged = order.map((i) => pieces[i]!).join('');
        expect(contentOf(decryptChatCompletion(completion(forged), session))).toBe(order.map((i) => plain[i]!).join(''));
      }),
      parameters,
    );
  }, fuzzTimeout(200, 5));

  it('streamed: chunks in any order, repeated or dropped, decrypt without error to those texts', async () => {
    await fc.assert(
      fc.asyncProperty(texts.chain((plain) => fc.tuple(fc.constant(plain), rearrangement(plain.length))), async ([plain, order]) => {
        const pieces = plain.map((t) => serverEncrypt(KEY, NONCE, t));
        const wire = order.map((i) => chunkEvent(pieces[i]!)).join('') + 'data: [DONE]\n\n';
        const { contents, error } = await readStream(wire, session);
        expect(error).toBeUndefined();
        expect(contents).toEqual(order.map((i) => plain[i]!));
      }),
      parameters,
    );
  }, fuzzTimeout(200, 5));

  it('a stream cut cleanly between two events (no finish_reason, no [DONE]) ends without error', async () => {
    await fc.assert(
      fc.asyncProperty(texts.chain((plain) => fc.tuple(fc.constant(plain), fc.nat({ max: plain.length }))), async ([plain, kept]) => {
        const wire = plain.slice(0, kept).map((t) => chunkEvent(serverEncrypt(KEY, NONCE, t))).join('');
        const { contents, error } = await readStream(wire, session);
        // No event at all is not a chat stream (issue 10): an error, never a clean empty answer.
        if (kept === 0) expect(error).toBeInstanceOf(EventStreamError);
        else expect(error).toBeUndefined();
        expect(contents).toEqual(plain.slice(0, kept));
      }),
      parameters,
    );
  }, fuzzTimeout(200, 5));

  it('…but a ciphertext of another request (another key or nonce) is always refused', async () => {
    const other = sessionFromKey(KEY, NONCE.map((b) => b ^ 1));
    await fc.assert(
      fc.asyncProperty(texts, async (plain) => {
        const wire = plain.map((t) => chunkEvent(serverEncrypt(KEY, NONCE, t))).join('') + 'data: [DONE]\n\n';
        const { contents, error } = await readStream(wire, other);
        expect(error).toBeInstanceOf(DecryptionFailedError);
        expect(contents).toEqual([]);
      }),
      parameters,
    );
  }, fuzzTimeout(200, 5));
});
