/**
 * encryptChatRequest: which parts of a chat completion request are encrypted (protocol §4).
 * Everything the protocol can encrypt is encrypted; anything it cannot is refused with a typed
 * error before a byte is sent. The input is never mutated.
 */
import { UnsupportedContentError } from '../errors.js';
import { isJsonObject, jsonTypeName, type JsonObject } from './json.js';
import type { Session } from './session.js';

export interface EncryptRequestOptions {
  /**
   * Told about a part sent as it is although encryption is on (an http(s) image URL, which the
   * service must fetch itself). Default: `console.warn`, once per process.
   */
  onWarning?: (message: string) => void;
}

let warnedOnce = false;
function defaultWarning(message: string): void {
  if (warnedOnce) return;
  warnedOnce = true;
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

function encryptImagePart(part: JsonObject, session: Session, where: Where, warn: (m: string) => void): JsonObject {
  const image = part.image_url;
  if (!isJsonObject(image) || typeof image.url !== 'string') {
    refuse(where, 'is an image_url part without a string url', 'Give image_url as { "url": "data:…" }.');
  }
  const url = image.url;
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'data') {
    return { ...part, image_url: { ...image, url: encryptString(url, session, where) } };
  }
  if (scheme === 'http' || scheme === 'https') {
    warn(
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

function encryptPart(part: unknown, session: Session, where: Where, warn: (m: string) => void): unknown {
  if (!isJsonObject(part)) {
    return refuse(where, `is a ${jsonTypeName(part)}, not a content part object`, 'Use { "type": "text", "text": "…" }.');
  }
  switch (part.type) {
    case 'text':
      if (typeof part.text !== 'string') {
        refuse(where, `is a text part whose text is ${jsonTypeName(part.text)}`, 'Give text as a string.');
      }
      return { ...part, text: encryptString(part.text, session, where) };
    case 'image_url':
      return encryptImagePart(part, session, where, warn);
    case 'video_url':
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

function encryptMessage(message: unknown, index: number, session: Session, warn: (m: string) => void): unknown {
  if (!isJsonObject(message)) {
    return refuse(
      { messageIndex: index },
      `belongs to a message that is a ${jsonTypeName(message)}, not an object`,
      'Give each message as { "role": "…", "content": … }.',
    );
  }
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

/** The request body with every message content encrypted (protocol §4); a new object. */
export function encryptChatRequest<T>(body: T, session: Session, options: EncryptRequestOptions = {}): T {
  if (!isJsonObject(body) || !Array.isArray(body.messages)) {
    throw new UnsupportedContentError(
      'a chat completion request needs a "messages" array; nothing was sent',
      { messageIndex: -1 },
    );
  }
  const warn = options.onWarning ?? defaultWarning;
  const messages = body.messages.map((message, index) => encryptMessage(message, index, session, warn));
  return { ...body, messages } as T;
}
