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
import { GCM_TAG_LENGTH } from '../crypto/backend.js';
import { GcmBoundaryFinder } from '../crypto/gcm-boundary.js';
import { DecryptionFailedError } from '../errors.js';
import { decodeBase64, decodeBase64Into } from '../crypto/base64.js';
import type { Session } from './session.js';
import { utf8Decode, utf8DecodeShort } from './utf8.js';

const PAD = 61; // '='
/** Segments longer than this are tried whole with one GCM open before the tag search. */
const LONG_SEGMENT_BYTES = 512;
/** Unpadded pieces are whole base64 quanta: a multiple of 3 bytes. */
const UNPADDED_BYTE_STEP = 3;
/**
 * The longest unpadded piece searched for inside a segment, tag included (the segment's last
 * piece may be longer: it is tried whole). The service's pieces are its stream's chunks, a few
 * tokens each; the bound keeps a content made with the key but whose tags never match (text
 * that decrypts to UTF-8, so that the UTF-8 check cannot stop the search early) from costing a
 * tag check every 3 bytes to its end: at most ~5 500 checks, a few ms, whatever its size.
 */
export const MAX_SEARCHED_PIECE_BYTES = 16 * 1024;

export interface PieceFailure {
  /** Offset in base64 characters where the piece that did not authenticate starts. */
  offset: number;
  reason: 'not-base64' | 'not-authentic';
}

/** Segment ends: the index just after each run of `=`, and the end of the text. */
function segmentEnds(content: string): number[] {
  const ends: number[] = [];
  let end = 0;
  for (let index = content.indexOf('='); index !== -1; index = content.indexOf('=', end)) {
    end = index + 1;
    while (content.charCodeAt(end) === PAD) end++; // NaN past the end
    ends.push(end);
  }
  if (end !== content.length) ends.push(content.length);
  return ends;
}

/**
 * A ciphertext up to this long can be opened by the session's finder (a few JS GHASH blocks and
 * an XOR with the shared key stream) rather than by the backend, whose cipher set-up alone costs
 * more than that: the case of every chunk of a stream. Longer ones always go to the backend.
 */
const FINDER_OPEN_MAX_BYTES = 256;
/**
 * Making a finder costs about as much as five to ten backend opens (two AES blocks, the GHASH
 * tables, the key stream; ~30 µs against 3–7 µs), and each open after it ~0.3–0.5 µs: a session
 * gets one once it has opened this many short ciphertexts, i.e. a stream (hundreds of them),
 * not a one-text answer. At 16 the opens before it were ~5% of a 400-event stream's decryption.
 */
const FINDER_AFTER_SHORT_OPENS = 4;

interface SessionOpener {
  finder: GcmBoundaryFinder | undefined;
  shortOpens: number;
}

/**
 * Per session, while it lives: a streamed answer opens thousands of short ciphertexts under one
 * key and nonce, and the finder's set-up is paid once for all of them.
 */
const openers = new WeakMap<Session, SessionOpener>();

function openerOf(session: Session): SessionOpener {
  let opener = openers.get(session);
  if (opener === undefined) {
    // Stryker disable next-line ObjectLiteral: speed only: without its fields an opener counts no short opens (undefined + 1 is NaN), so only openAll's finderOf gives it a finder
    opener = { finder: undefined, shortOpens: 0 };
    openers.set(session, opener);
  }
  return opener;
}

/** The session's finder (its GHASH widens its own tables once it has hashed 64 KiB). */
function finderOf(session: Session): GcmBoundaryFinder {
  const opener = openerOf(session);
  opener.finder ??= new GcmBoundaryFinder(session.backend, session.key, session.nonce);
  return opener.finder;
}

/** One whole ciphertext: by the finder for short ones in a session that has many, else the backend. */
// Stryker disable next-line BlockStatement: opening nothing here leaves the content to the segment search, which finds the same one piece (or none)
function openWhole(session: Session, sealed: Uint8Array): Uint8Array | undefined {
  // Both choices below pick between the finder and the backend, which return the same plaintext
  // for an authentic ciphertext and undefined for any other (test/crypto/gcm-boundary.test.ts).
  // Stryker disable next-line ConditionalExpression,EqualityOperator,BlockStatement: speed only, see above
  if (sealed.length <= FINDER_OPEN_MAX_BYTES) {
    const opener = openerOf(session);
    // Stryker disable next-line ConditionalExpression,EqualityOperator,LogicalOperator,UpdateOperator,BlockStatement: speed only, see above
    if (opener.finder !== undefined || ++opener.shortOpens > FINDER_AFTER_SHORT_OPENS) {
      return finderOf(session).open(sealed);
    }
  }
  return session.backend.open(session.key, session.nonce, sealed);
}

/** Room for the bytes of a content `quickOpen` decodes (ciphertexts the finder opens). */
const quickBytes = new Uint8Array(FINDER_OPEN_MAX_BYTES);

/**
 * The plaintext of a content that is one short ciphertext, in a session whose finder has taken
 * over: the common case of a stream, decoded without the checks, slices and buffers that
 * `decodeBase64` makes. `undefined` for anything else, which `openAll` then opens (or refuses)
 * in full: the same bytes come out whichever way a content goes.
 */
// Stryker disable next-line BlockStatement: undefined sends every content the full way (speed only)
function quickOpen(content: string, session: Session): Uint8Array | undefined {
  const finder = openers.get(session)?.finder;
  if (finder === undefined) return undefined;
  const length = decodeBase64Into(content, quickBytes);
  // Stryker disable next-line EqualityOperator: an empty content (0) goes the full way too, to the same result
  return length < 0 ? undefined : finder.open(quickBytes.subarray(0, length));
}

/** Every piece's plaintext laid end to end in `bytes`: piece `i` is `starts[i]..starts[i + 1]`. */
interface OpenedPieces {
  bytes: Uint8Array;
  starts: number[];
}

function isFailure(result: OpenedPieces | PieceFailure): result is PieceFailure {
  return 'reason' in result;
}

/**
 * Every piece opened, its plaintext written into one buffer (no array and no string per piece:
 * at 20 000 pieces that garbage, not the crypto, is what grows faster than the input); or where
 * the first failing piece starts. Never a partial result.
 */
function openAll(content: string, session: Session): OpenedPieces | PieceFailure {
  const { backend, key, nonce } = session;
  // Common case first: the whole content is one ciphertext.
  const whole = decodeBase64(content);
  // Stryker disable next-line BlockStatement: without this try the segment search finds the same one piece
  if (whole !== undefined) {
    const plain = openWhole(session, whole);
    if (plain !== undefined) return { bytes: plain, starts: [0, plain.length] };
  }

  // The plaintexts are shorter than the decoded content, itself at most 3/4 of its characters.
  const out = new Uint8Array(Math.ceil(content.length / 4) * 3);
  const starts = [0];
  let written = 0;
  let finder: GcmBoundaryFinder | undefined;
  let segmentStart = 0;
  for (const segmentEnd of segmentEnds(content)) {
    // Canonical base64 has `=` only at its end: a content that decoded whole is one segment,
    // [0, length), decoded and tried above.
    const isWhole = whole !== undefined;
    const bytes = isWhole ? whole : decodeBase64(content, segmentStart, segmentEnd);
    if (bytes === undefined) return { offset: segmentStart, reason: 'not-base64' };
    // A long segment is most likely one piece: one GCM open (OpenSSL, faster than the JS
    // GHASH) settles it. Short ones go straight to the tag search, cheaper than a failing open.
    // Stryker disable next-line LogicalOperator: a whole content's open failed above and fails again the same way
    const single = !isWhole && bytes.length > LONG_SEGMENT_BYTES ? backend.open(key, nonce, bytes) : undefined;
    if (single !== undefined) {
      out.set(single, written);
      written += single.length;
      starts.push(written);
    } else {
      finder ??= finderOf(session);
      let start = 0;
      while (start < bytes.length) {
        const search = { utf8: true, maxLength: MAX_SEARCHED_PIECE_BYTES };
        const length = finder.firstEnd(bytes, start, UNPADDED_BYTE_STEP, search);
        if (length !== undefined) {
          finder.plaintextInto(bytes, start, length, out, written);
          written += length - GCM_TAG_LENGTH;
          starts.push(written);
          start += length;
          continue;
        }
        // Past the bound, the rest of the segment can still be one (long, last) piece.
        const rest = finder.lastMiss === 'too-long' ? backend.open(key, nonce, bytes.subarray(start)) : undefined;
        if (rest === undefined) {
          return { offset: segmentStart + (start / UNPADDED_BYTE_STEP) * 4, reason: 'not-authentic' };
        }
        out.set(rest, written);
        written += rest.length;
        starts.push(written);
        break;
      }
    }
    segmentStart = segmentEnd;
  }
  return { bytes: out.subarray(0, written), starts };
}

/**
 * The plaintexts of every piece, in order; or where the first failing piece starts.
 * Never returns a partial result.
 */
export function openPieces(content: string, session: Session): string[] | PieceFailure {
  const opened = openAll(content, session);
  if (isFailure(opened)) return opened;
  const { bytes, starts } = opened;
  const texts: string[] = [];
  for (let i = 0; i + 1 < starts.length; i++) texts.push(utf8Decode(bytes.subarray(starts[i], starts[i + 1])));
  return texts;
}

/** A UTF-8 continuation byte (10xxxxxx): never the first byte of a character. */
function isContinuation(byte: number): boolean {
  return (byte & 0xc0) === 0x80;
}

/**
 * The pieces' texts joined, decoded in one go. Each piece must be UTF-8 on its own (the service
 * encrypts whole texts): the whole is valid UTF-8 and no piece starts inside a character exactly
 * when every piece is, so one decode and a check per piece start say the same as a decode each.
 */
function joinedText({ bytes, starts }: OpenedPieces): string {
  // Stryker disable next-line ArithmeticOperator: past the last piece starts[i + 1] is undefined, and `at < undefined` is false
  for (let i = 1; i + 1 < starts.length; i++) {
    const at = starts[i]!;
    // Stryker disable next-line LogicalOperator: decoding every piece on its own throws exactly when one of them is not UTF-8, as the start check and the whole decode below do together
    if (at < starts[i + 1]! && isContinuation(bytes[at]!)) utf8Decode(bytes.subarray(at, starts[i + 1])); // throws
  }
  return utf8Decode(bytes);
}

/** `openPieces` joined, or a `DecryptionFailedError` that says where and why. */
export function decryptPieces(
  content: string,
  session: Session,
  where: { choiceIndex?: number; field?: string } = {},
): string {
  const quick = quickOpen(content, session);
  if (quick !== undefined) return utf8DecodeShort(quick);
  const result = openAll(content, session);
  if (!isFailure(result)) return joinedText(result);
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
