/**
 * The chunk template's alphabet check (src/protocol/chunk-template.ts) is a pattern built when
 * its module loads, and a mutation run switches it only then. These streams are read by an
 * event-stream decrypter loaded afresh (test/helpers/load-afresh.ts), so that its template uses a
 * fresh pattern, and compared event by event with the slow way (decryptEventData without a
 * template): the same text, or the same error.
 */
import { describe, expect, it } from 'vitest';
import { decryptEventData, type EventState } from '../../src/protocol/event-stream.js';
import { loadAfresh } from '../helpers/load-afresh.js';
import { eventOfData, sealForTemplate as enc, templateChunk, templateSession } from '../helpers/template-chunks.js';

const chunk = (content: string): string => templateChunk({ content });

type Outcome = { text: string } | { name: string; code: unknown; message: string };

function caught(error: unknown): Outcome {
  const e = error as Error & { code?: unknown };
  return { name: e.name, code: e.code, message: e.message };
}

async function templateWay(datas: string[]): Promise<Outcome[]> {
  const { EventStreamDecrypter } = await loadAfresh(() => import('../../src/protocol/event-stream.js'));
  const decrypter = new EventStreamDecrypter(templateSession());
  const out: Outcome[] = [];
  for (const data of datas) {
    try {
      out.push({ text: decrypter.push(`data: ${data}\n\n`) });
    } catch (error) {
      out.push(caught(error));
      break;
    }
  }
  return out;
}

function slowWay(datas: string[]): Outcome[] {
  const session = templateSession();
  const state: EventState = { filtered: new Set() };
  const out: Outcome[] = [];
  for (const data of datas) {
    try {
      const text = decryptEventData(data, session, state);
      out.push({ text: eventOfData(text) });
    } catch (error) {
      out.push(caught(error));
      break;
    }
  }
  return out;
}

const learnt = Array.from({ length: 20 }, (_, i) => chunk(enc(`part ${i} é`)));

describe('the template pattern, read from a fresh module', () => {
  it.each([
    // Unescaped: the chunk is no longer JSON, which the slow way reports as such.
    ['a quote after the ciphertext', (sealed: string) => `${sealed}"`],
    ['a quote before the ciphertext', (sealed: string) => `"${sealed}`],
    ['an escaped quote after the ciphertext', (sealed: string) => `${sealed}\\"`],
    ['an escaped quote before the ciphertext', (sealed: string) => `\\"${sealed}`],
    ['a character outside the alphabet inside it', (sealed: string) => `${sealed.slice(0, 8)}*${sealed.slice(8)}`],
    ['a backslash escape at its end', (sealed: string) => `${sealed}\\n`],
  ])('%s: the slow way\'s outcome, event for event', async (_, change) => {
    const sealed = enc('x');
    const datas = [...learnt, chunk(sealed).replace(sealed, change(sealed)), chunk(enc('after'))];
    expect(await templateWay(datas)).toEqual(slowWay(datas));
  });

  it('a template learnt from a canonical chunk decrypts the next one like it itself', async () => {
    const { decryptEventData: freshDecrypt, ChunkTemplate } = await loadAfresh(async () => ({
      ...(await import('../../src/protocol/event-stream.js')),
      ...(await import('../../src/protocol/chunk-template.js')),
    }));
    const session = templateSession();
    const template = new ChunkTemplate();
    freshDecrypt(chunk(enc('first')), session, { filtered: new Set(), template });
    expect(template.decrypt(chunk(enc('next, and longer')), session)).toBe(chunk('next, and longer'));
  });

  it('a one-character text and an empty one pass or fail as the slow way says', async () => {
    const datas = [...learnt, chunk('A'), chunk('')];
    expect(await templateWay(datas)).toEqual(slowWay(datas));
  });
});
