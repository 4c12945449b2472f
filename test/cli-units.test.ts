/** The CLI's pure pieces, without spawning it: image sniffing and the serve --log lines. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sniffImageType } from '../src/cli/commands/chat.js';
import { describeMockRequest } from '../src/cli/serve-log.js';
import type { RecordedRequest } from '../src/testing/index.js';

const MAGIC: [string, number[]][] = [
  ['image/png', [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]],
  ['image/jpeg', [0xff, 0xd8, 0xff]],
  ['image/gif', [...'GIF87a'].map((c) => c.charCodeAt(0))],
  ['image/gif', [...'GIF89a'].map((c) => c.charCodeAt(0))],
];
const webp = (size: number[]) => [...'RIFF'].map((c) => c.charCodeAt(0)).concat(size, [...'WEBP'].map((c) => c.charCodeAt(0)));

describe('--image content sniffing', () => {
  it('knows PNG, JPEG, GIF and WebP by their first bytes, whatever follows', () => {
    fc.assert(
      fc.property(fc.constantFrom(...MAGIC), fc.uint8Array({ maxLength: 64 }), ([type, magic], rest) => {
        expect(sniffImageType(Uint8Array.from([...magic, ...rest]))).toBe(type);
      }),
    );
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }), fc.uint8Array({ maxLength: 64 }), (size, rest) => {
        expect(sniffImageType(Uint8Array.from([...webp(size), ...rest]))).toBe('image/webp');
      }),
    );
  });

  it('refuses everything else: text, a cut signature, a RIFF that is not WebP, nothing at all', () => {
    expect(sniffImageType(new TextEncoder().encode('just text'))).toBeUndefined();
    expect(sniffImageType(Uint8Array.from([0x89, 0x50, 0x4e, 0x47]))).toBeUndefined();
    expect(sniffImageType(Uint8Array.from([...'RIFF\0\0\0\0WAVE'].map((c) => c.charCodeAt(0))))).toBeUndefined();
    expect(sniffImageType(new Uint8Array())).toBeUndefined();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const type = sniffImageType(bytes);
        const expected = [...MAGIC.map(([t, m]) => [t, m] as const), ['image/webp', webp([bytes[4] ?? 0, bytes[5] ?? 0, bytes[6] ?? 0, bytes[7] ?? 0])] as const]
          .find(([, magic]) => magic.every((b, i) => bytes[i] === b))?.[0];
        expect(type).toBe(expected);
      }),
    );
  });
});

describe('serve --log lines', () => {
  const record = (over: Partial<RecordedRequest>): RecordedRequest => ({
    method: 'POST', path: '/api/v3/chat/completions', headers: {}, body: '{}', status: 200, ...over,
  });

  it('say which fields were ciphertext and what each decrypted to; plain requests are called out', () => {
    const body = JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: [{ type: 'text', text: 'CIPHER' }, { type: 'image_url', image_url: { url: 'https://x/a.png' } }] }] });
    const text = describeMockRequest(record({
      headers: { 'x-is-encrypted': 'true', 'x-session-token': `B${'A'.repeat(87)}` },
      body,
      decryptedMessages: [{ role: 'user', content: [{ type: 'text', text: 'hello' }, { type: 'image_url', image_url: { url: 'https://x/a.png' } }] }],
      ciphertextFields: ['messages[0].content[0].text'],
      answerCiphertexts: 3,
    }));
    expect(text).toContain('POST /api/v3/chat/completions 200 model=m encrypted\n');
    expect(text).toContain('ciphertext on the wire: messages[0].content[0].text\n');
    expect(text).toContain('plain on the wire: message roles and every other field (model, stream)');
    expect(text).toContain('messages[0].content[0].text: wire "CIPHER" → decrypted "hello"');
    expect(text).toContain('answer: 3 text(s) encrypted');
    expect(describeMockRequest(record({ body }))).toContain('NOT ENCRYPTED');
    expect(describeMockRequest(record({ headers: { 'x-is-encrypted': 'true' } }))).toContain('could not open this request');
  });

  it('never throw, whatever the request held', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.json()),
        fc.option(fc.array(fc.string({ maxLength: 30 }), { maxLength: 4 }), { nil: undefined }),
        fc.option(fc.array(fc.anything(), { maxLength: 3 }), { nil: undefined }),
        (body, fields, decrypted) => {
          const text = describeMockRequest(record({ body, headers: { 'x-is-encrypted': 'true' }, ciphertextFields: fields, decryptedMessages: decrypted }));
          expect(text.endsWith('\n')).toBe(true);
        },
      ),
    );
  });
});
