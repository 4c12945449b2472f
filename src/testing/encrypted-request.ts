/**
 * How the mock service opens a request that says `x-is-encrypted: true` (protocol §2, §4): it
 * checks X-Session-Token and X-Encrypt-Info against its certificate, derives the session and
 * decrypts every encrypted text of the messages. Any failure is a MockRequestError (HTTP 400).
 */
import { AICC_VERSION } from '../protocol/constants.js';
import type { MockCertificate } from './certificate-authority.js';
import {
  decryptRequestMessages,
  deriveServerSession,
  RequestDecryptionError,
  serverDecrypt,
  serverEncrypt,
  type ServerSession,
} from './service-crypto.js';

/** A request the mock refuses: HTTP status and Ark-style error code, type and param. */
export class MockRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly type = 'BadRequest',
    readonly param = '',
  ) {
    super(message);
    this.name = 'MockRequestError';
  }
}

function badRequest(message: string, param = ''): MockRequestError {
  return new MockRequestError(400, 'InvalidParameter', message, 'BadRequest', param);
}

/** Checks X-Encrypt-Info: an integer ExpireTime equal to the certificate's notAfter; AICC ids. */
export function checkEncryptInfo(raw: string | undefined, certificate: MockCertificate): void {
  if (raw === undefined || raw === '') throw badRequest('an encrypted request must carry X-Encrypt-Info', 'X-Encrypt-Info');
  let info: unknown;
  try {
    info = JSON.parse(raw);
  } catch {
    throw badRequest('X-Encrypt-Info is not JSON', 'X-Encrypt-Info');
  }
  if (typeof info !== 'object' || info === null || Array.isArray(info)) {
    throw badRequest('X-Encrypt-Info is not a JSON object', 'X-Encrypt-Info');
  }
  const fields = info as Record<string, unknown>;
  const expireTime = fields['ExpireTime'];
  const notAfter = Math.floor(certificate.notAfter.getTime() / 1000);
  if (typeof expireTime !== 'number' || !Number.isInteger(expireTime)) {
    throw badRequest('X-Encrypt-Info.ExpireTime must be an integer (Unix seconds)', 'X-Encrypt-Info');
  }
  if (expireTime !== notAfter) {
    throw badRequest(`X-Encrypt-Info.ExpireTime ${expireTime} is not the certificate's notAfter ${notAfter}`, 'X-Encrypt-Info');
  }
  if (certificate.aicc) {
    const expected: Record<string, string> = { Version: AICC_VERSION, RingID: certificate.ringId, KeyID: certificate.keyId };
    for (const [name, value] of Object.entries(expected)) {
      if (fields[name] !== value) {
        throw badRequest(`X-Encrypt-Info.${name} must be ${JSON.stringify(value)} in AICC mode, got ${JSON.stringify(fields[name])}`, 'X-Encrypt-Info');
      }
    }
  } else {
    for (const name of ['Version', 'RingID', 'KeyID']) {
      if (name in fields) throw badRequest(`X-Encrypt-Info.${name} is only for AICC mode; this certificate is not AICC`, 'X-Encrypt-Info');
    }
  }
}

export interface OpenedRequest {
  readonly session: ServerSession;
  /** The messages with every encrypted text decrypted. */
  readonly messages: unknown[];
  /** Where the request carried ciphertext, e.g. `messages[1].content[0].text`. */
  readonly ciphertextFields: string[];
  /** Encrypts one answer text with the request's key and nonce. */
  readonly seal: (text: string) => string;
}

/** Opens an encrypted chat request, or throws MockRequestError (400). */
export function openEncryptedRequest(
  headers: Record<string, string>,
  body: Record<string, unknown>,
  certificate: MockCertificate,
): OpenedRequest {
  const token = headers['x-session-token'];
  if (token === undefined || token === '') throw badRequest('an encrypted request must carry X-Session-Token', 'X-Session-Token');
  checkEncryptInfo(headers['x-encrypt-info'], certificate);
  let session: ServerSession;
  try {
    session = deriveServerSession(certificate.privateKey, token);
  } catch (error) {
    throw badRequest(`X-Session-Token is not a valid session token: ${(error as Error).message}`, 'X-Session-Token');
  }
  let messages: unknown[];
  const ciphertextFields: string[] = [];
  try {
    messages = decryptRequestMessages(body['messages'], (text) => serverDecrypt(session.key, session.nonce, text), ciphertextFields);
  } catch (error) {
    if (!(error instanceof RequestDecryptionError)) throw error;
    throw badRequest(`the encrypted request carries a text that does not decrypt: ${error.message}`, error.where);
  }
  return { session, messages, ciphertextFields, seal: (text) => serverEncrypt(session.key, session.nonce, text) };
}
