/**
 * The library's one PEM reader (RFC 7468): CERTIFICATE blocks found in a text, and a block's
 * base64 body as DER. Every other file takes the BEGIN and END lines from here. Pure.
 */
import { decodeBase64, encodeBase64 } from '../crypto/base64.js';

export const PEM_CERTIFICATE_BEGIN = '-----BEGIN CERTIFICATE-----';
export const PEM_CERTIFICATE_END = '-----END CERTIFICATE-----';

const OTHER_BEGIN_LINE = /^-----BEGIN (.+)-----$/;

/**
 * Every CERTIFICATE block of a PEM text, each as its own PEM text, in order. A linear scan: a
 * hostile text of many BEGIN lines without END costs one pass, not one pass per BEGIN.
 */
export function splitPemCertificates(text: string): string[] {
  const blocks: string[] = [];
  for (let begin = text.indexOf(PEM_CERTIFICATE_BEGIN); begin >= 0; ) {
    const end = text.indexOf(PEM_CERTIFICATE_END, begin + PEM_CERTIFICATE_BEGIN.length);
    // Stryker disable next-line EqualityOperator: a found END is past its BEGIN, never at 0
    if (end < 0) break; // no END after this BEGIN, hence none after any later one either
    blocks.push(text.slice(begin, end + PEM_CERTIFICATE_END.length));
    begin = text.indexOf(PEM_CERTIFICATE_BEGIN, end + PEM_CERTIFICATE_END.length);
  }
  return blocks;
}

/** Whether `text` has a BEGIN CERTIFICATE line at or after `from` (complete block or not). */
export function hasPemCertificateBegin(text: string, from = 0): boolean {
  return text.indexOf(PEM_CERTIFICATE_BEGIN, from) >= 0;
}

/** The label of a `-----BEGIN LABEL-----` line, or `undefined` when `line` is not one. */
export function pemBeginLabel(line: string): string | undefined {
  return OTHER_BEGIN_LINE.exec(line)?.[1];
}

/**
 * The DER bytes of one block as splitPemCertificates gives it: the body between the lines with
 * its whitespace dropped, decoded as canonical base64. `undefined` when the body is empty or not
 * base64.
 */
export function pemBlockDer(block: string): Uint8Array | undefined {
  if (!block.startsWith(PEM_CERTIFICATE_BEGIN) || !block.endsWith(PEM_CERTIFICATE_END)) return undefined;
  // Stryker disable next-line Regex: dropping whitespace one character or one run at a time is the same
  const body = block.slice(PEM_CERTIFICATE_BEGIN.length, block.length - PEM_CERTIFICATE_END.length).replace(/\s+/g, '');
  if (body.length === 0) return undefined;
  return decodeBase64(body);
}

/** `der` as a PEM block of `label`, 64 characters a line (what the mock service and the tests serve). */
export function encodePem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const lines = encodeBase64(der).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
