/**
 * encryptChatRequest: which parts of a chat completion request are encrypted (protocol §4).
 * Everything the protocol can encrypt is encrypted; anything it cannot is refused with a typed
 * error before a byte is sent. The input is never mutated.
 */
import { UnsupportedContentError } from '../errors.js';
import { isJsonObject, jsonTypeName, type JsonObject } from './json.js';
import { folded, lookalikeMember } from './lookalike-member.js';
import { asSentJson } from './request-body.js';
import type { Session } from './session.js';

export interface EncryptRequestOptions {
  /**
   * Told, every time, about a part sent as it is although encryption is on (an http(s) image
   * URL or a video URL, which the service fetches itself) and about a `reasoning_content`
   * dropped from a message. Default: `console.warn`, once per process for each kind.
   */
  onWarning?: (message: string) => void;
}

/** What a warning is about: the default warns once per process for each. */
type WarningKind = 'image-url' | 'video-url' | 'reasoning-content';
type Warn = (kind: WarningKind, message: string) => void;

const warned = new Set<WarningKind>();
function defaultWarning(kind: WarningKind, message: string): void {
  if (warned.has(kind)) return;
  warned.add(kind);
  console.warn(`ark-e2ee: ${message}`);
}

interface Where {
  messageIndex: number;
  partIndex?: number;
}

function refuse(where: Where, what: string, hint: string): never {
  const place =
    where.partIndex === undefined
      ? `messages[${where.messageIndex}].content`
      : `messages[${where.messageIndex}].content[${where.partIndex}]`;
  throw new UnsupportedContentError(
    `${place} ${what}, which the encryption protocol cannot carry; nothing was sent. ${hint}`,
    where,
  );
}

function encryptString(text: string, session: Session, where: Where): string {
  if (!text.isWellFormed()) {
    refuse(where, 'holds a lone UTF-16 surrogate', 'Fix the string so it is valid Unicode.');
  }
  return session.encryptText(text);
}

function encryptImagePart(part: JsonObject, session: Session, where: Where, warn: Warn): JsonObject {
  const image = part.image_url;
  if (!isJsonObject(image) || typeof image.url !== 'string') {
    refuse(where, 'is an image_url part without a string url', 'Give image_url as { "url": "data:…" }.');
  }
  const url = image.url;
  // Stryker disable next-line OptionalChaining: group 1 is not optional, so a match always has a string at [1]
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'data') {
    return { ...part, image_url: { ...image, url: encryptString(url, session, where) } };
  }
  if (scheme === 'http' || scheme === 'https') {
    warn(
      // Stryker disable next-line StringLiteral: the kind is only a key of the once-per-process set of defaultWarning, and an empty one is still distinct from the other two kinds
      'image-url',
      `messages[${where.messageIndex}].content[${where.partIndex}] is an ${scheme} image URL: ` +
        'it is sent unencrypted because the service fetches it itself; send the image as a ' +
        'base64 data: URL to have it encrypted',
    );
    return part;
  }
  return refuse(
    where,
    `is an image URL with scheme "${scheme ?? ''}"`,
    'Send the image as a base64 data: URL (encrypted) or an http(s) URL (sent as it is).',
  );
}

/**
 * A video part is sent as it is, whatever its URL: §4 has no encrypted form for it. A `data:` URL
 * carries the video itself, so the caller is told, as for an http(s) image.
 */
function warnAboutVideo(part: JsonObject, where: Where, warn: Warn): void {
  const video = part.video_url;
  const url = isJsonObject(video) ? video.url : undefined;
  if (typeof url !== 'string' || !/^\s*data:/i.test(url)) return;
  warn(
    // Stryker disable next-line StringLiteral: the kind is only a key of the once-per-process set of defaultWarning, and an empty one is still distinct from the other two kinds
    'video-url',
    `messages[${where.messageIndex}].content[${where.partIndex}] is a video given as a data: URL: ` +
      'it is sent unencrypted because the encryption protocol has no encrypted form for videos; ' +
      'leave it out if it must not leave in plain text',
  );
}

/** Members that would go up in plain text beside a part's own: refused. */
function refuseStrayText(part: JsonObject, where: Where): void {
  const lookalike = lookalikeMember(part, ['type', 'text', 'image_url', 'video_url']);
  if (lookalike !== undefined) {
    refuse(where, `has a member ${JSON.stringify(lookalike)} that a server may read as ${JSON.stringify(folded(lookalike))}`, 'Spell member names in lower case.');
  }
  if (part.type !== 'text' && 'text' in part) {
    refuse(where, `is a ${JSON.stringify(part.type)} part that also carries "text"`, 'Put the text in a part of its own.');
  }
  const image = part.image_url;
  const url = isJsonObject(image) ? lookalikeMember(image, ['url']) : undefined;
  if (url !== undefined) refuse(where, `has an image_url member ${JSON.stringify(url)} that a server may read as "url"`, 'Spell it "url".');
}

function encryptPart(part: unknown, session: Session, where: Where, warn: Warn): unknown {
  if (!isJsonObject(part)) {
    return refuse(where, `is a ${jsonTypeName(part)}, not a content part object`, 'Use { "type": "text", "text": "…" }.');
  }
  refuseStrayText(part, where);
  switch (part.type) {
    case 'text':
      if (typeof part.text !== 'string') {
        refuse(where, `is a text part whose text is ${jsonTypeName(part.text)}`, 'Give text as a string.');
      }
      return { ...part, text: encryptString(part.text, session, where) };
    case 'image_url':
      return encryptImagePart(part, session, where, warn);
    case 'video_url':
      warnAboutVideo(part, where, warn);
      // Sent as it is (protocol §4): the service fetches videos itself.
      return part;
    default:
      return refuse(
        where,
        `is a part of type ${JSON.stringify(part.type) ?? 'undefined'}`,
        'Only text, image_url and video_url parts can be sent with encryption on.',
      );
  }
}

/**
 * `reasoning_content` a caller sends back (the answer's message pushed onto `messages`, now
 * decrypted) is not a place §4 encrypts, and whether the service would decrypt it there is not
 * specified: it is dropped, with a warning, rather than sent in plain text (docs/protocol.md §4).
 */
function withoutReasoning(message: JsonObject, index: number, warn: Warn): JsonObject {
  if (!('reasoning_content' in message)) return message;
  const { reasoning_content: reasoning, ...rest } = message;
  if (reasoning === null) return message;
  warn(
    // Stryker disable next-line StringLiteral: the kind is only a key of the once-per-process set of defaultWarning, and an empty one is still distinct from the other two kinds
    'reasoning-content',
    `messages[${index}] carries reasoning_content, which the encryption protocol does not encrypt; ` +
      'it was left out of the request rather than sent in plain text. Remove it before sending back an answer',
  );
  return rest;
}

function encryptMessage(input: unknown, index: number, session: Session, warn: Warn): unknown {
  if (!isJsonObject(input)) {
    return refuse(
      { messageIndex: index },
      `belongs to a message that is a ${jsonTypeName(input)}, not an object`,
      'Give each message as { "role": "…", "content": … }.',
    );
  }
  const lookalike = lookalikeMember(input, ['content', 'reasoning_content']);
  if (lookalike !== undefined) {
    refuse(
      { messageIndex: index },
      `has a sibling member ${JSON.stringify(lookalike)} that a server may read as ${JSON.stringify(folded(lookalike))}`,
      'Spell member names in lower case.',
    );
  }
  const message = withoutReasoning(input, index, warn);
  const { content } = message;
  if (content === undefined || content === null) return message;
  if (typeof content === 'string') {
    return { ...message, content: encryptString(content, session, { messageIndex: index }) };
  }
  if (Array.isArray(content)) {
    const parts = content.map((part, partIndex) =>
      encryptPart(part, session, { messageIndex: index, partIndex }, warn),
    );
    return { ...message, content: parts };
  }
  return refuse(
    { messageIndex: index },
    `is a ${jsonTypeName(content)}`,
    'Give content as a string or an array of content parts.',
  );
}

function warnerFor(options: EncryptRequestOptions): Warn {
  const onWarning = options.onWarning;
  return onWarning === undefined ? defaultWarning : (_kind, message) => onWarning(message);
}

/**
 * The body, already plain JSON data (parsed from the text that will be sent), with every message
 * content encrypted (protocol §4); a new object. For the transports, which parse the body
 * themselves.
 */
export function encryptChatRequestJson(body: JsonObject, session: Session, options: EncryptRequestOptions = {}): JsonObject {
  if (!Array.isArray(body.messages)) {
    throw new UnsupportedContentError(
      'a chat completion request needs a "messages" array; nothing was sent',
      { messageIndex: -1 },
    );
  }
  const lookalike = lookalikeMember(body, ['messages']);
  if (lookalike !== undefined) {
    throw new UnsupportedContentError(
      `the request body has a member ${JSON.stringify(lookalike)} beside "messages", which a server ` +
        'may read as "messages" and which would go in plain text; nothing was sent',
      { messageIndex: -1 },
    );
  }
  const warn = warnerFor(options);
  const messages = body.messages.map((message, index) => encryptMessage(message, index, session, warn));
  return { ...body, messages };
}

/**
 * The request body with every message content encrypted (protocol §4); a new object. The body
 * is first read as `JSON.stringify` will send it (`toJSON` applied, `undefined` dropped), so
 * what is encrypted is what goes on the wire.
 */
export function encryptChatRequest<T>(body: T, session: Session, options: EncryptRequestOptions = {}): T {
  const sent = asSentJson(body);
  if (!isJsonObject(sent)) {
    throw new UnsupportedContentError(
      'a chat completion request needs a "messages" array; nothing was sent',
      { messageIndex: -1 },
    );
  }
  return encryptChatRequestJson(sent, session, options) as T;
}
