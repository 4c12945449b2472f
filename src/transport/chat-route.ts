/**
 * For the proxy's `encryptAll`: whether a request that is not being encrypted would reach the
 * upstream's chat endpoint anyway, or carries chat messages. Servers route more spellings of a
 * path than `…/chat/completions` (percent-encoded letters, doubled slashes, `;params`, another
 * letter case, a trailing `%2F`), and the JSON body, not the path, is what carries the texts.
 * With `encryptAll`, such a request is refused rather than sent up in plain text.
 */
import { UnsupportedRequestError } from '../errors.js';
import { CHAT_COMPLETIONS_SUFFIX } from '../protocol/constants.js';

function decodedOnce(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    // A stray `%`: decode the escapes that are well formed, keep the rest.
    return path.replace(/%[0-9a-f]{2}/gi, (escape) => {
      try {
        return decodeURIComponent(escape);
      } catch {
        return escape;
      }
    });
  }
}

/**
 * A path as a lenient server may route it: percent-decoded (twice over, for a double encoding),
 * `\` read as `/`, `;params` cut from each segment, empty and `.` segments dropped, `..` applied,
 * lower case, no trailing slash.
 */
export function routedPath(path: string): string {
  let decoded = path;
  for (let round = 0; round < 3; round++) {
    const next = decodedOnce(decoded);
    if (next === decoded) break;
    decoded = next;
  }
  const segments: string[] = [];
  for (const raw of decoded.replaceAll('\\', '/').split('/')) {
    const segment = raw.split(';')[0]!.trim().toLowerCase();
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  return `/${segments.join('/')}`;
}

/** Whether a server that routes leniently would take `path` for a (batch, bot) chat completion. */
export function routesToChatCompletion(path: string): boolean {
  // `…/batch/chat/completions` and `…/bots/chat/completions` end with it too.
  return routedPath(path).endsWith(CHAT_COMPLETIONS_SUFFIX);
}

/** Whether a JSON body carries chat messages: a top-level key `messages`, in any letter case. */
function carriesMessages(text: string): boolean {
  let body: unknown;
  try {
    body = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch {
    // Not JSON to us; a more lenient parser upstream may still read it (one that stops after the
    // first value, or skips a stray BOM), key escapes included: `"me\u0073sages"` is "messages".
    const unescaped = text.replace(/\\u([0-9a-f]{4})/gi, (_escape, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
    return /"messages"\s*:/i.test(unescaped);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  return Object.keys(body).some((key) => key.toLowerCase() === 'messages');
}

/**
 * Throws `UnsupportedRequestError` when a request the proxy is about to send up unencrypted,
 * under `encryptAll`, carries chat messages (`body`: the whole body, as bytes or text).
 */
export function refusePlainChat(method: string, path: string, body: string | Uint8Array | undefined): void {
  if (body === undefined) return;
  const text = typeof body === 'string' ? body : new TextDecoder().decode(body);
  if (!carriesMessages(text)) return;
  const route = routesToChatCompletion(path)
    ? `${path} is a chat completion as a lenient server routes it, but not spelled …/chat/completions ` +
      '(or it is the bot API, which the protocol does not cover)'
    : `${method} ${path} is not a chat completion the protocol covers`;
  throw new UnsupportedRequestError(
    `${route}, and its body carries "messages": with encryptAll it is refused rather than sent up ` +
      'in plain text; nothing was sent. Send it as POST …/chat/completions',
  );
}
