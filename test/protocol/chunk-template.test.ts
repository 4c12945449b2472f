/**
 * The chunk template (src/protocol/chunk-template.ts): a stream decrypted with it gives, event
 * for event, the text and the errors of the slow way (decryptEventData with no template:
 * parse, check, decrypt, serialise), on generated streams that mix chunks the template takes
 * with the forms it must not take (a member named twice, an escaped name, blanks, another
 * member, a tampered ciphertext, a content_filter choice).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecryptionFailedError, EventStreamError } from '../../src/errors.js';
import { ChunkTemplate } from '../../src/protocol/chunk-template.js';
import { decryptEventData, EventStreamDecrypter, type EventState } from '../../src/protocol/event-stream.js';
import type { Session } from '../../src/protocol/session.js';
import { fuzzParameters, fuzzTimeout } from '../fuzz/settings.js';
import { eventOfData, sealForTemplate as enc, templateChunk as chunk, templateSession as fresh } from '../helpers/template-chunks.js';

/** A ciphertext with its first character changed: it no longer authenticates. */
const tampered = (sealed: string): string => (sealed[0] === 'A' ? 'B' : 'A') + sealed.slice(1);

/** The slow way's text for one event, serialised as the decrypter does. */
function slowEvent(data: string, session: Session, state: EventState): string {
  return eventOfData(decryptEventData(data, session, state));
}

type Outcome = { text: string } | { error: unknown };

function outcome(run: () => string): Outcome {
  try {
    return { text: run() };
  } catch (error) {
    return { error };
  }
}

function expectSameOutcome(fast: Outcome, slow: Outcome): void {
  if ('error' in slow) {
    expect('error' in fast, 'the template path must fail where the slow way fails').toBe(true);
    const error = (fast as { error: Error }).error;
    expect(error.constructor).toBe((slow.error as Error).constructor);
    expect(error.message).toBe((slow.error as Error).message);
  } else {
    expect(fast).toEqual(slow);
  }
}

/**
 * Both ways over the same events; with no content_filter chunk the decrypter gives each event's
 * text as it comes, so they are compared event by event, errors included.
 */
function compare(datas: string[]): void {
  const decrypter = new EventStreamDecrypter(fresh());
  const slowSession = fresh();
  const state: EventState = { filtered: new Set() };
  for (const data of datas) {
    const slow = outcome(() => slowEvent(data, slowSession, state));
    const fast = outcome(() => decrypter.push(`data: ${data}\n\n`));
    expectSameOutcome(fast, slow);
    if ('error' in slow) return;
  }
}

// ---- generated chunks ------------------------------------------------------------------------

const shortText = fc.string({ unit: fc.constantFrom('a', 'é', '中', '😀', '"', '\\', '\n', ' '), maxLength: 6 });

/** One event's data: mostly the template's form, else one of the forms it must not take. */
const eventData: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: shortText.map((t) => chunk({ content: enc(t) })) },
  { weight: 2, arbitrary: shortText.map((t) => chunk({ reasoning_content: enc(t) })) },
  { weight: 1, arbitrary: shortText.map((t) => chunk({ role: 'assistant', content: enc(t) })) },
  { weight: 1, arbitrary: shortText.map((t) => chunk({ content: enc(t) }, { finish: 'stop' })) },
  { weight: 1, arbitrary: fc.constant(chunk({ content: '' })) },
  { weight: 1, arbitrary: fc.constant(chunk({ content: null })) },
  // Named twice: the template's head and tail around a middle that holds a quote.
  { weight: 2, arbitrary: fc.tuple(shortText, shortText).map(([a, b]) => chunk({ content: enc(a) }).replace('"content":"', `"content":"${enc(b)}","content":"`)) },
  { weight: 1, arbitrary: fc.tuple(shortText, shortText).map(([a, b]) => chunk({ content: enc(a) }).replace('"choices":', `"choices":[{"index":0,"delta":{"content":"${enc(b)}"}}],"choices":`)) },
  { weight: 1, arbitrary: shortText.map((t) => chunk({ content: enc(t) }).replace('"content"', '"cont\\u0065nt"')) },
  { weight: 1, arbitrary: shortText.map((t) => chunk({ content: enc(t) }).replace('"content":', '"content": ')) },
  { weight: 1, arbitrary: shortText.map((t) => chunk({ content: enc(t) }).replace('"chatcmpl-1"', '"chatcmpl-\\u0031"')) },
  { weight: 1, arbitrary: shortText.map((t) => chunk({ content: enc(t) }).replace('"finish_reason":null', '"finish_reason":null,"refusal":"no"')) },
  { weight: 1, arbitrary: shortText.map((t) => chunk({ content: enc(t), refusal: 'plain words' })) },
  { weight: 1, arbitrary: shortText.map((t) => chunk({ content: enc(t) }, { id: 'other' })) },
  { weight: 1, arbitrary: shortText.map((t) => chunk({ content: enc(t), reasoning_content: enc(t) })) },
  // Tampered: a character of the ciphertext changed, still base64.
  { weight: 2, arbitrary: fc.tuple(shortText, fc.nat()).map(([t, at]) => {
    const sealed = enc(t);
    const i = at % (sealed.length - 2);
    return chunk({ content: sealed.slice(0, i) + (sealed[i] === 'A' ? 'B' : 'A') + sealed.slice(i + 1) });
  }) },
  { weight: 1, arbitrary: fc.constant(chunk({ content: 'not*base64' })) },
  { weight: 1, arbitrary: fc.constant('[DONE]') },
);

describe('ChunkTemplate: the same text and errors as the slow way', () => {
  it('on generated streams of chunks in the template form and in forms it must refuse', () => {
    fc.assert(fc.property(fc.array(eventData, { minLength: 1, maxLength: 40 }), compare), fuzzParameters(150));
  }, fuzzTimeout(150, 40));

  it('on a long stream of the usual form, then a chunk that differs only in a quote inside the ciphertext', () => {
    const datas = Array.from({ length: 30 }, (_, i) => chunk({ content: enc(`part ${i} "quoted" é`) }));
    const last = enc('x');
    // Head and tail of the template around a middle that is not base64: the slow way's error.
    datas.push(chunk({ content: last }).replace(last, `${last}"`));
    compare(datas);
  });

  it('refuses content after a content_filter chunk, as the slow way does', () => {
    const datas = [
      ...Array.from({ length: 10 }, (_, i) => chunk({ content: enc(`t${i}`) })),
      chunk({ content: 'plain filtered words' }, { finish: 'content_filter' }),
      chunk({ content: enc('slipped in') }),
    ];
    const decrypter = new EventStreamDecrypter(fresh());
    const pushed = outcome(() => datas.map((data) => decrypter.push(`data: ${data}\n\n`)).join(''));
    expect('error' in pushed && pushed.error).toBeInstanceOf(EventStreamError);
    expect(('error' in pushed && (pushed.error as Error).message) || '').toMatch(/content after its plain content_filter text/);
  });

  it('a tampered ciphertext in the template form fails with the slow way’s error, naming choice and field', () => {
    const session = fresh();
    const template = new ChunkTemplate();
    const state: EventState = { filtered: new Set(), template };
    for (let i = 0; i < 6; i++) decryptEventData(chunk({ reasoning_content: enc(`r${i}`) }), session, state);
    const bad = chunk({ reasoning_content: tampered(enc('hello')) });
    expect(template.decrypt(chunk({ reasoning_content: enc('ok') }), session)).toBe(chunk({ reasoning_content: 'ok' }));
    expect(() => template.decrypt(bad, session)).toThrow(DecryptionFailedError);
    expect(() => template.decrypt(bad, session)).toThrow(/the reasoning_content of choice 0 does not authenticate/);
  });
});

describe('ChunkTemplate: what it learns from', () => {
  const session = fresh();
  /** A template after the slow way has decrypted `learnt` (each as decryptEventData would). */
  function learntFrom(...learnt: string[]): ChunkTemplate {
    const template = new ChunkTemplate();
    const state: EventState = { filtered: new Set(), template };
    for (const data of learnt) decryptEventData(data, session, state);
    return template;
  }
  const next = chunk({ content: enc('next') });

  it('a canonical chunk with one encrypted text: the next like it is decrypted from the template', () => {
    expect(learntFrom(chunk({ content: enc('first') })).decrypt(next, session)).toBe(chunk({ content: 'next' }));
  });

  it('a chunk with blanks, an escape or the ciphertext twice: nothing learnt', () => {
    const sealed = enc('first');
    for (const data of [
      chunk({ content: sealed }).replace('"content":', '"content": '),
      chunk({ content: sealed }).replace('"m"', '"\\u006d"'),
      chunk({ content: sealed }, { id: sealed }),
    ]) {
      const template = learntFrom(data);
      expect(template.decrypt(data.replace(sealed, enc('next')), session)).toBeUndefined();
    }
  });

  it('two choices, two texts, or none: nothing learnt', () => {
    const two = JSON.stringify({ choices: [{ index: 0, delta: { content: enc('a') } }, { index: 1, delta: { content: enc('b') } }] });
    for (const data of [two, chunk({ content: enc('a'), reasoning_content: enc('b') }), chunk({ content: '' })]) {
      expect(learntFrom(data).decrypt(next, session)).toBeUndefined();
    }
  });

  it('nothing from a chunk the slow way did not decrypt: the plain text of a content_filter chunk', () => {
    // "Withheld" is made of base64 characters only, like a ciphertext.
    const filtered = chunk({ content: 'Withheld' }, { finish: 'content_filter' });
    const template = learntFrom(filtered);
    expect(template.decrypt(chunk({ content: enc('next') }, { finish: 'content_filter' }), session)).toBeUndefined();
  });

  it('nothing from a chunk whose ciphertext occurs again after it, nor from one with a second, plain choice', () => {
    const sealed = enc('first');
    const twice = JSON.stringify({ ...JSON.parse(chunk({ content: sealed })), echo: sealed });
    expect(learntFrom(twice).decrypt(twice.replace(sealed, enc('next')), session)).toBeUndefined();
    const plainSecond = (text: string): string => JSON.stringify({
      choices: [{ index: 0, delta: { content: text } }, { index: 1, delta: { role: 'assistant' } }],
    });
    expect(learntFrom(plainSecond(sealed)).decrypt(plainSecond(enc('next')), session)).toBeUndefined();
  });

  it('an empty content beside an encrypted reasoning_content is no second text', () => {
    const both = (reasoning: string): string => chunk({ content: '', reasoning_content: reasoning });
    expect(learntFrom(both(enc('first'))).decrypt(both(enc('next')), session)).toBe(both('next'));
  });

  it('a tampered ciphertext is refused naming its choice on the template path as on the slow way (by index, else 0)', () => {
    for (const [choice, named] of [[{ index: 2 }, 2], [{}, 0]] as const) {
      const form = (text: string): string => JSON.stringify({ choices: [{ ...choice, delta: { content: text } }] });
      const template = learntFrom(form(enc('first')));
      const bad = form(tampered(enc('hello')));
      const refusal = new RegExp(`^the content of choice ${named} does not authenticate`);
      expect(template.decrypt(form(enc('ok')), session)).toBe(form('ok'));
      expect(() => template.decrypt(bad, session)).toThrow(refusal);
      expect(() => decryptEventData(bad, session, { filtered: new Set() })).toThrow(refusal);
    }
  });

  it('stops learning after 16 chunks it could not use', () => {
    const spaced = (text: string): string => chunk({ content: enc(text) }).replace('"content":', '"content": ');
    const given = Array.from({ length: 16 }, (_, i) => spaced(`s${i}`));
    expect(learntFrom(...given, chunk({ content: enc('first') })).decrypt(next, session)).toBeUndefined();
    expect(learntFrom(...given.slice(1), chunk({ content: enc('first') })).decrypt(next, session)).toBe(chunk({ content: 'next' }));
  });

  it('does not learn from a chunk over 4 096 characters', () => {
    const long = (text: string, pad: number): string => chunk({ content: enc(text) }, { id: 'x'.repeat(pad) });
    const fits = 4096 - long('first', 0).length;
    expect(learntFrom(long('first', fits)).decrypt(long('next', fits), session)).toBe(chunk({ content: 'next' }, { id: 'x'.repeat(fits) }));
    expect(learntFrom(long('first', fits + 1)).decrypt(long('next', fits + 1), session)).toBeUndefined();
  });

  it('does not take a chunk that is only the template’s head and tail', () => {
    const template = learntFrom(chunk({ content: enc('first') }));
    expect(template.decrypt(chunk({ content: '' }), session)).toBeUndefined();
  });
});
