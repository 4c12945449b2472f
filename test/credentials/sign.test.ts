/**
 * The OpenAPI signer against vectors/openapi/signatures.json (every expected value computed by
 * the official Python SDK's signer, scripts/openapi-sign-vectors.py), an independent node:crypto
 * computation for arbitrary inputs, and the cases that break signers.
 */
import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../src/errors.js';
import { canonicalQuery, percentEncode, signOpenApiRequest, signingTimestamp } from '../../src/credentials/sign.js';

interface SignCase {
  name: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  region: string;
  service: string;
  date: string;
  method: string;
  url: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: string;
  expected: { xDate: string; xContentSha256: string; canonicalRequest: string; stringToSign: string; authorization: string };
}

const vectors = JSON.parse(readFileSync(new URL('../../vectors/openapi/signatures.json', import.meta.url), 'utf8')) as { cases: SignCase[] };

const dateOf = (stamp: string): Date =>
  new Date(`${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}Z`);

function sign(c: SignCase) {
  return signOpenApiRequest(
    { method: c.method, url: c.url, query: c.query, headers: c.headers, body: c.body },
    {
      credentials: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken },
      region: c.region,
      service: c.service,
      date: dateOf(c.date),
    },
  );
}

/** The signature computed from the parts, with node:crypto, as the algorithm states it. */
function independentSignature(secret: string, day: string, region: string, service: string, stringToSign: string): string {
  let key: Buffer = createHmac('sha256', Buffer.from(secret, 'utf8')).update(day, 'utf8').digest();
  for (const part of [region, service, 'request']) key = createHmac('sha256', key).update(part, 'utf8').digest();
  return createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
}

describe('signOpenApiRequest against the official Python SDK signer', () => {
  it('has the vectors', () => {
    expect(vectors.cases.length).toBeGreaterThanOrEqual(13);
  });

  it.each(vectors.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const signed = sign(c);
    expect(signed.headers['X-Date']).toBe(c.expected.xDate);
    expect(signed.headers['X-Content-Sha256']).toBe(c.expected.xContentSha256);
    expect(signed.canonicalRequest).toBe(c.expected.canonicalRequest);
    expect(signed.stringToSign).toBe(c.expected.stringToSign);
    expect(signed.headers.Authorization).toBe(c.expected.authorization);
    if (c.sessionToken) expect(signed.headers['X-Security-Token']).toBe(c.sessionToken);
    // What goes on the wire is what was signed: the query line of the canonical request.
    const queryLine = c.expected.canonicalRequest.split('\n')[2]!;
    expect(new URL(signed.url).search).toBe(queryLine === '' ? '' : `?${queryLine}`);
  });
});

describe('signOpenApiRequest edge cases', () => {
  const base = vectors.cases[0]!;

  it('hashes an empty body as SHA-256 of nothing', () => {
    const signed = sign({ ...base, method: 'GET', body: '' });
    expect(signed.headers['X-Content-Sha256']).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('signs the same whatever order the query and headers are given in', () => {
    const a = sign({ ...base, query: { Action: 'A', Version: 'V', z: '1', a: '2' }, headers: { 'X-B': '1', 'Content-Type': 'application/json', 'X-A': '2' } });
    const b = sign({ ...base, query: { a: '2', z: '1', Version: 'V', Action: 'A' }, headers: { 'X-A': '2', 'Content-Type': 'application/json', 'X-B': '1' } });
    expect(a.headers.Authorization).toBe(b.headers.Authorization);
  });

  it('takes header names case-insensitively and trims values as fetch sends them', () => {
    const a = sign({ ...base, headers: { 'content-type': 'application/json', 'x-custom': '  v  ' } });
    const b = sign({ ...base, headers: { 'Content-Type': 'application/json', 'X-Custom': 'v' } });
    expect(a.headers.Authorization).toBe(b.headers.Authorization);
    expect(a.canonicalRequest).toContain('\nx-custom:v\n');
  });

  it('refuses what cannot be sent as signed', () => {
    expect(() => sign({ ...base, headers: { 'X-A': 'a\r\nX-B: b' } })).toThrow(InvalidOptionError);
    expect(() => sign({ ...base, headers: { 'X-A': 'café' } })).toThrow(/printable ASCII/);
    expect(() => sign({ ...base, headers: { 'X A': 'v' } })).toThrow(/header name/);
    expect(() => sign({ ...base, headers: { 'X-A': '1', 'x-a': '2' } })).toThrow(/twice/);
    expect(() => sign({ ...base, query: { a: '\uD800' } })).toThrow(/surrogate/);
    expect(() => sign({ ...base, url: 'https://open.volcengineapi.com/?Action=GetApiKey' })).toThrow(/query/);
    expect(() => signingTimestamp(new Date(Number.NaN))).toThrow(InvalidOptionError);
  });

  it('never lets a caller header replace the signature or the host', () => {
    const signed = sign({ ...base, headers: { ...base.headers, Authorization: 'Bearer x', Host: 'evil.example' } });
    expect(signed.headers.Authorization).toBe(base.expected.authorization);
    expect(signed.headers.Host).toBeUndefined();
  });

  it('percent-encodes as RFC 3986 over UTF-8 (node:querystring with the extra reserved marks)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (text) => {
        const independent = encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
        expect(percentEncode(text)).toBe(independent);
      }),
    );
  });

  it('sorts the query by encoded key, whatever the keys', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ unit: 'grapheme' }), fc.string()), (query) => {
        const keys = canonicalQuery(query).split('&').filter((pair) => pair !== '').map((pair) => pair.split('=')[0]!);
        expect(keys).toEqual([...keys].sort());
        expect(keys.length).toBe(Object.keys(query).length);
      }),
    );
  });

  it('matches an independent node:crypto computation for arbitrary bodies, secrets and regions', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme', minLength: 1 }), fc.constantFrom('cn-beijing', 'cn-shanghai', 'ap-southeast-1'), (body, secret, region) => {
        const signed = sign({ ...base, body, secretAccessKey: secret, region });
        expect(signed.headers['X-Content-Sha256']).toBe(createHash('sha256').update(body, 'utf8').digest('hex'));
        const canonicalHash = createHash('sha256').update(signed.canonicalRequest, 'utf8').digest('hex');
        expect(signed.stringToSign.split('\n')[3]).toBe(canonicalHash);
        expect(signed.signature).toBe(independentSignature(secret, base.date.slice(0, 8), region, 'ark', signed.stringToSign));
      }),
      { numRuns: 200 },
    );
  });
});
