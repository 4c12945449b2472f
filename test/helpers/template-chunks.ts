/**
 * The chunks the chunk-template tests feed both ways (test/protocol/chunk-template.test.ts and
 * test/mutation/chunk-template-fresh.test.ts): one key and nonce, chunks as the service
 * serialises them, and the slow way's output for one event.
 */
import { sessionFromKey } from '../../src/protocol/create-session.js';
import type { Session } from '../../src/protocol/session.js';
import { serverEncrypt } from './server-crypto.js';

const KEY = new Uint8Array(32).map((_, i) => (i * 7 + 3) & 0xff);
const NONCE = new Uint8Array(12).map((_, i) => 90 + i);

/** `text` sealed the way the service seals an answer's text, under the tests' key and nonce. */
export const sealForTemplate = (text: string): string => serverEncrypt(KEY, NONCE, text);

/** A new session (node backend) with the tests' key and nonce: nothing cached from another. */
export const templateSession = (): Session => sessionFromKey(KEY, NONCE, { backend: 'node' });

/** A chunk as the service makes it, JSON.stringify'd: the form the template learns from. */
export function templateChunk(delta: Record<string, unknown>, extra: { finish?: string | null; id?: string } = {}): string {
  return JSON.stringify({
    id: extra.id ?? 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1764600000,
    model: 'm',
    choices: [{ index: 0, delta, finish_reason: extra.finish ?? null, logprobs: null }],
  });
}

/** One event's data written as the decrypter writes it: a `data:` line for each line, then a blank line. */
export function eventOfData(data: string): string {
  return `${data.split('\n').map((line) => `data: ${line}\n`).join('')}\n`;
}
