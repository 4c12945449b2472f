/**
 * `ark-e2ee serve --log`: one block per request the mock served, saying what crossed the wire
 * (which fields were ciphertext, the session token) and what the mock decrypted, so a user can see
 * their own program's traffic without writing code.
 */
import type { RecordedRequest } from '../testing/index.js';

const KEEP = 48;

/** The start of a text, cut on a code point; texts may be tens of megabytes, so only the start is split. */
function short(text: string, keep = KEEP): string {
  if (text.length <= keep) return text;
  return `${Array.from(text.slice(0, keep * 2)).slice(0, keep).join('')}…(${text.length} characters)`;
}

/** The value at a path like `messages[1].content[0].image_url.url` in a parsed body. */
function at(value: unknown, path: string): unknown {
  let current = value;
  for (const step of path.match(/[^.[\]]+/g) ?? []) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string, unknown>)[step];
  }
  return current;
}

function parsed(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function quoted(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(short(value)) : String(value);
}

/** The lines `serve --log` prints for one request. */
export function describeMockRequest(record: RecordedRequest): string {
  const status = record.status === undefined || record.status === 0 ? '---' : String(record.status);
  const head = `${record.method} ${record.path} ${status}`;
  const body = parsed(record.body);
  const model = typeof body?.['model'] === 'string' ? ` model=${body['model']}` : '';
  if (record.path.endsWith('/e2e/get/certificate')) return `${head} certificate request${model}\n`;
  if (!record.path.endsWith('/chat/completions')) return `${head}\n`;
  if (record.headers['x-is-encrypted']?.toLowerCase() !== 'true') {
    return `${head}${model} NOT ENCRYPTED (no x-is-encrypted: true): every message crossed the wire in plain text\n`;
  }
  const lines = [`${head}${model} encrypted`];
  const token = record.headers['x-session-token'];
  lines.push(`  session token (the client's ephemeral P-256 key): ${token ? short(token, 24) : 'none'}`);
  if (record.headers['x-encrypt-info']) lines.push(`  X-Encrypt-Info: ${record.headers['x-encrypt-info']}`);
  if (record.decryptedMessages === undefined || record.ciphertextFields === undefined) {
    lines.push('  the mock could not open this request (see the error it answered)');
    return `${lines.join('\n')}\n`;
  }
  const fields = record.ciphertextFields;
  lines.push(`  ciphertext on the wire: ${fields.length === 0 ? 'none' : fields.join(', ')}`);
  const plainKeys = Object.keys(body ?? {}).filter((key) => key !== 'messages');
  lines.push(`  plain on the wire: message roles and every other field${plainKeys.length > 0 ? ` (${plainKeys.join(', ')})` : ''}`);
  const decrypted = { messages: record.decryptedMessages };
  for (const field of fields) {
    lines.push(`  ${field}: wire ${quoted(at(body, field))} → decrypted ${quoted(at(decrypted, field))}`);
  }
  if (record.answerCiphertexts !== undefined && record.status === 200) {
    lines.push(`  answer: ${record.answerCiphertexts} text(s) encrypted with the request's session (contents, reasoning); tool calls and other fields plain`);
  }
  return `${lines.join('\n')}\n`;
}
