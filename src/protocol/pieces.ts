/**
 * A content made of one or several ciphertexts laid end to end → the concatenated plaintext
 * (protocol §5), in time linear in its length.
 *
 * Each piece is canonical base64 of `ciphertext || tag`, a multiple of 4 characters, at least
 * 24. A piece whose byte length is not a multiple of 3 ends in `=` padding, so the content can
 * first be cut after every run of `=`: each such segment holds zero or more unpadded pieces
 * followed by one piece that may be padded. A segment decodes to the concatenation of its
 * pieces' bytes, since unpadded pieces are whole base64 quanta. Inside a segment, unpadded
 * pieces are 3-byte multiples; only the tag tells where one ends (GcmBoundaryFinder).
 */
import { GcmBoundaryFinder } from '../crypto/gcm-boundary.js';
import { DecryptionFailedError } from '../errors.js';
import { decodeBase64 } from './base64.js';
import type { Session } from './session.js';
import { utf8Decode } from './utf8.js';

const PAD = 61; // '='
/** Segments longer than this are tried whole with one GCM open before the tag search. */
const LONG_SEGMENT_BYTES = 512;
/** Unpadded pieces are whole base64 quanta: a multiple of 3 bytes. */
const UNPADDED_BYTE_STEP = 3;

export interface PieceFailure {
  /** Offset in base64 characters where the piece that did not authenticate starts. */
  offset: number;
  reason: 'not-base64' | 'not-authentic';
}

/** Segment ends: the index just after each run of `=`, and the end of the text. */
function segmentEnds(content: string): number[] {
  const ends: number[] = [];
  let index = content.indexOf('=');
  while (index !== -1) {
    let end = index + 1;
    while (end < content.length && content.charCodeAt(end) === PAD) end++;
    ends.push(end);
    index = content.indexOf('=', end);
  }
  if (ends.length === 0 || ends[ends.length - 1] !== content.length) ends.push(content.length);
  return ends;
}

/**
 * The plaintexts of every piece, in order; or where the first failing piece starts.
 * Never returns a partial result.
 */
export function openPieces(content: string, session: Session): string[] | PieceFailure {
  const { backend, key, nonce } = session;
  // Common case first: the whole content is one ciphertext.
  const whole = decodeBase64(content);
  if (whole !== undefined) {
    const plain = backend.open(key, nonce, whole);
    if (plain !== undefined) return [utf8Decode(plain)];
  }

  const texts: string[] = [];
  let finder: GcmBoundaryFinder | undefined;
  let segmentStart = 0;
  for (const segmentEnd of segmentEnds(content)) {
    const bytes = decodeBase64(content, segmentStart, segmentEnd);
    if (bytes === undefined) return { offset: segmentStart, reason: 'not-base64' };
    // A long segment is most likely one piece: one GCM open settles it. Short ones go straight
    // to the tag search, which is cheaper than a failing open.
    const single = bytes.length > LONG_SEGMENT_BYTES ? backend.open(key, nonce, bytes) : undefined;
    if (single !== undefined) {
      texts.push(utf8Decode(single));
    } else {
      finder ??= new GcmBoundaryFinder(backend, key, nonce);
      let start = 0;
      while (start < bytes.length) {
        const length = finder.firstEnd(bytes, start, UNPADDED_BYTE_STEP);
        if (length === undefined) {
          return { offset: segmentStart + (start / UNPADDED_BYTE_STEP) * 4, reason: 'not-authentic' };
        }
        texts.push(utf8Decode(finder.plaintextOf(bytes, start, length)));
        start += length;
      }
    }
    segmentStart = segmentEnd;
  }
  return texts;
}

/** `openPieces` joined, or a `DecryptionFailedError` that says where and why. */
export function decryptPieces(
  content: string,
  session: Session,
  where: { choiceIndex?: number; field?: string } = {},
): string {
  const result = openPieces(content, session);
  if (Array.isArray(result)) return result.length === 1 ? result[0]! : result.join('');
  const field = where.field ?? 'content';
  const choice = where.choiceIndex === undefined ? '' : ` of choice ${where.choiceIndex}`;
  const why =
    result.reason === 'not-base64'
      ? 'is not canonical base64'
      : 'does not authenticate under this session key';
  throw new DecryptionFailedError(
    `the ${field}${choice} ${why} at character ${result.offset}: the answer was altered, cut ` +
      'short, or encrypted for another request; do not trust any of it',
    { choiceIndex: where.choiceIndex, offset: result.offset },
  );
}
