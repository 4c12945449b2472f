/**
 * Volcengine's OpenAPI for service `ark`, the two actions the access-key path uses, on the mock
 * server (mounted at `/`, beside the Ark API under `/api/v3`):
 *
 * - `GetApiKey` → `{ApiKey, ExpiredTime}`: a fresh short-lived key the mock's chat endpoint accepts
 *   until it expires;
 * - `GetEndpointCertificate` → the model certificate issued by a mock private CA over the mock's
 *   own key, with that CA's sub-CA and root (openapi-pki.ts).
 *
 * Every call's signature is checked as the service checks it: the canonical request is rebuilt
 * from what arrived (the headers named in SignedHeaders, the query, the body's hash) and signed
 * with the secret of the access key named in the Credential. Refusals are OpenAPI-shaped
 * (`ResponseMetadata.Error.Code`, `RequestId`), with the service's public error codes.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { canonicalQuery, canonicalRequest, sha256Hex, signatureOf, signingKey } from '../credentials/sign.js';
import { ARK_OPENAPI_SERVICE, ARK_OPENAPI_VERSION, DEFAULT_REGION } from '../credentials/openapi.js';
import { AICC_VERSION } from '../protocol/constants.js';
import type { MockCertificate } from './certificate-authority.js';
import { createMockPcaChain, type MockPcaChain } from './openapi-pki.js';

/** How far X-Date may be from the mock's clock. */
const CLOCK_SKEW_MS = 15 * 60 * 1000;

export interface MockOpenApiOptions {
  /** The one access key pair the mock knows. */
  accessKey: string;
  secretKey: string;
  /** The region signatures must be made for; default `cn-beijing`. */
  region?: string;
  /** Endpoints the actions know (others: `NotFound.Endpoint`); default every one. */
  endpoints?: readonly string[];
  /** Lifetime of the keys GetApiKey gives, in seconds; default the DurationSeconds asked. */
  apiKeyLifetimeSeconds?: number;
  /** Serve this chain instead of a fresh one (e.g. one that does not verify). */
  chain?: MockPcaChain;
  now?: () => number;
}

export interface MockOpenApiStats {
  getApiKey: number;
  getEndpointCertificate: number;
  /** Calls refused for their signature, credential or timestamp. */
  refused: number;
}

export interface MockOpenApi {
  readonly chain: MockPcaChain;
  readonly stats: MockOpenApiStats;
  /** Whether `authorization` is `Bearer <key>` with a key this mock gave and that has not expired. */
  accepts(authorization: string | undefined): boolean;
  /** Answers one OpenAPI request (`path` with its query; header names lowercased). */
  serve(request: { method: string; path: string; headers: Record<string, string>; body: string }, response: ServerResponse): void;
}

class OpenApiRefusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function parseAuthorization(value: string): { accessKey: string; scope: string[]; signedNames: string[]; signature: string } | undefined {
  const match = /^HMAC-SHA256 Credential=([^,\s]+), ?SignedHeaders=([^,\s]+), ?Signature=([0-9a-f]{64})$/.exec(value);
  if (!match) return undefined;
  const [accessKey, ...scope] = match[1]!.split('/');
  if (accessKey === undefined || scope.length !== 4) return undefined;
  return { accessKey, scope, signedNames: match[2]!.split(';'), signature: match[3]! };
}

function queryOf(path: string): Record<string, string> {
  const search = path.includes('?') ? path.slice(path.indexOf('?') + 1) : '';
  // No prototype: a parameter named __proto__ is a parameter like any other.
  const query: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [key, value] of new URLSearchParams(search)) {
    if (Object.hasOwn(query, key)) throw new OpenApiRefusal(400, 'InvalidParameter', `the query parameter ${key} is given twice`);
    query[key] = value;
  }
  return query;
}

export function createMockOpenApi(options: MockOpenApiOptions, certificate: MockCertificate): MockOpenApi {
  const region = options.region ?? DEFAULT_REGION;
  const now = options.now ?? Date.now;
  const chain = options.chain ?? createMockPcaChain(certificate);
  const issued = new Map<string, number>();
  const stats: MockOpenApiStats = { getApiKey: 0, getEndpointCertificate: 0, refused: 0 };
  let sequence = 0;

  const refuse = (status: number, code: string, message: string): never => {
    throw new OpenApiRefusal(status, code, message);
  };

  const checkSignature = (request: { method: string; path: string; headers: Record<string, string>; body: string }): void => {
    const authorization = request.headers['authorization'];
    if (authorization === undefined) refuse(401, 'MissingAuthenticationToken', 'Request is missing Authentication Token.');
    const parsed = parseAuthorization(authorization!) ?? refuse(400, 'InvalidAuthorization', "Invalid 'Authorization' header.");
    if (parsed.accessKey !== options.accessKey) refuse(401, 'InvalidAccessKey', `The accesskey [${parsed.accessKey}] included in the request is invalid.`);
    const xDate = request.headers['x-date'] ?? refuse(400, 'MissingRequestInfo', 'The request is missing X-Date information.');
    const stamp = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(xDate);
    const signedAt = stamp ? Date.UTC(+stamp[1]!, +stamp[2]! - 1, +stamp[3]!, +stamp[4]!, +stamp[5]!, +stamp[6]!) : Number.NaN;
    if (!(Math.abs(signedAt - now()) <= CLOCK_SKEW_MS)) refuse(403, 'InvalidTimestamp', 'The Signature of the request is expired.');
    const [day, scopeRegion, service, terminal] = parsed.scope;
    if (day !== xDate.slice(0, 8) || scopeRegion !== region || service !== ARK_OPENAPI_SERVICE || terminal !== 'request') {
      refuse(400, 'InvalidCredential', "Invalid credential in 'Authorization'.");
    }
    const names = parsed.signedNames;
    if (!names.includes('host') || !names.includes('x-date') || names.join(';') !== [...names].sort().join(';')) {
      refuse(401, 'SignatureDoesNotMatch', 'SignedHeaders must list host and x-date, sorted.');
    }
    const headers = new Map<string, string>();
    for (const name of names) {
      const value = request.headers[name];
      if (value === undefined) refuse(401, 'SignatureDoesNotMatch', `The signed header ${name} is missing.`);
      headers.set(name, name === 'host' ? value!.trim().replace(/:(80|443)$/, '') : value!.trim());
    }
    const bodyHash = sha256Hex(request.body);
    const claimed = request.headers['x-content-sha256'];
    if (claimed !== undefined && claimed !== bodyHash) refuse(401, 'SignatureDoesNotMatch', 'X-Content-Sha256 is not the hash of the body.');
    const canonical = canonicalRequest({
      method: request.method.toUpperCase(),
      path: request.path.split('?')[0] ?? '/',
      query: canonicalQuery(queryOf(request.path)),
      headers,
      signedNames: names,
      bodyHash,
    });
    const key = signingKey(options.secretKey, day!, region, ARK_OPENAPI_SERVICE);
    const { signature } = signatureOf(canonical, xDate, parsed.scope.join('/'), key);
    if (!timingSafeEqual(Buffer.from(signature), Buffer.from(parsed.signature))) {
      refuse(401, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.');
    }
  };

  const knownEndpoint = (id: unknown, field: string): string => {
    if (typeof id !== 'string' || id === '') refuse(400, 'MissingParameter', `The request is missing ${field} parameter.`);
    if (options.endpoints !== undefined && !options.endpoints.includes(id as string)) {
      refuse(404, 'NotFound.Endpoint', `The specified endpoint ${id as string} is not found.`);
    }
    return id as string;
  };

  const getApiKey = (body: Record<string, unknown>): Record<string, unknown> => {
    stats.getApiKey += 1;
    const duration = body['DurationSeconds'];
    if (typeof duration !== 'number' || !Number.isSafeInteger(duration) || duration <= 0) {
      refuse(400, 'InvalidParameter', 'DurationSeconds must be a positive integer.');
    }
    const type = body['ResourceType'];
    if (type !== 'endpoint' && type !== 'presetendpoint' && type !== 'bot') refuse(400, 'InvalidParameter', 'ResourceType is not valid.');
    if (type === 'presetendpoint' && (typeof body['ProjectName'] !== 'string' || body['ProjectName'] === '')) {
      refuse(400, 'MissingParameter', 'The request is missing ProjectName parameter.');
    }
    const ids = body['ResourceIds'];
    if (!Array.isArray(ids) || ids.length !== 1) refuse(400, 'InvalidParameter', 'ResourceIds must hold one id.');
    knownEndpoint((ids as unknown[])[0], 'ResourceIds');
    const lifetime = Math.min(duration as number, options.apiKeyLifetimeSeconds ?? Number.POSITIVE_INFINITY);
    const expiredTime = Math.floor(now() / 1000) + lifetime;
    const apiKey = `mock-sts-${randomBytes(18).toString('base64url')}`;
    issued.set(apiKey, expiredTime * 1000);
    return { ApiKey: apiKey, ExpiredTime: expiredTime };
  };

  const getEndpointCertificate = (body: Record<string, unknown>): Record<string, unknown> => {
    stats.getEndpointCertificate += 1;
    knownEndpoint(body['Id'], 'Id');
    if (body['Type'] !== undefined && body['Type'] !== AICC_VERSION) refuse(400, 'InvalidParameter', `Type must be ${AICC_VERSION} when present.`);
    return {
      PCAInstanceCertificate: chain.instancePem,
      PCASubCACertificate: chain.subCaPem,
      PCARootCACertificate: chain.rootPem,
      NotBefore: Math.floor(certificate.notBefore.getTime() / 1000),
      NotAfter: Math.floor(certificate.notAfter.getTime() / 1000),
      PCAName: 'ark-e2ee-mock',
    };
  };

  return {
    chain,
    stats,
    accepts(authorization) {
      const key = /^Bearer (\S+)$/.exec(authorization ?? '')?.[1];
      const expiresMs = key === undefined ? undefined : issued.get(key);
      return expiresMs !== undefined && now() < expiresMs;
    },
    serve(request, response) {
      sequence += 1;
      const requestId = `20261201000000mock${String(sequence).padStart(8, '0')}`;
      let query: Record<string, string> = {};
      const metadata = (): Record<string, unknown> => ({
        RequestId: requestId,
        Action: query['Action'] ?? '',
        Version: query['Version'] ?? '',
        Service: ARK_OPENAPI_SERVICE,
        Region: region,
      });
      let status = 200;
      let answer: Record<string, unknown>;
      try {
        query = queryOf(request.path);
        if (request.method !== 'POST') refuse(405, 'InvalidActionOrVersion', 'Use POST.');
        try {
          checkSignature(request);
        } catch (error) {
          stats.refused += 1;
          throw error;
        }
        const action = query['Action'];
        if (query['Version'] !== ARK_OPENAPI_VERSION || (action !== 'GetApiKey' && action !== 'GetEndpointCertificate')) {
          refuse(404, 'InvalidActionOrVersion', `Could not find operation ${action ?? ''} for version ${query['Version'] ?? ''}.`);
        }
        let body: unknown;
        try {
          body = JSON.parse(request.body);
        } catch {
          body = undefined;
        }
        if (typeof body !== 'object' || body === null || Array.isArray(body)) refuse(400, 'InvalidParameter', 'The body is not a JSON object.');
        const result = action === 'GetApiKey' ? getApiKey(body as Record<string, unknown>) : getEndpointCertificate(body as Record<string, unknown>);
        answer = { ResponseMetadata: metadata(), Result: result };
      } catch (error) {
        if (!(error instanceof OpenApiRefusal)) throw error;
        status = error.status;
        answer = { ResponseMetadata: { ...metadata(), Error: { Code: error.code, Message: error.message } } };
      }
      const text = JSON.stringify(answer);
      response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)) });
      response.end(text);
    },
  };
}
