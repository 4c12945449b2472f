/**
 * `E2E_CERTIFICATE_PATH`, as the official SDKs name it: one PEM file used for every model
 * (protocol §1). Node only: reached through `#certificates/files` (files-node.ts), so browser
 * bundles do not carry it.
 *
 * The path is the caller's own choice, but what it names may not be what they think (a FIFO, a
 * device, a file that keeps growing), and it is consulted on every request. So:
 * - it is read once per change: each request costs one `stat`, and the file is opened again only
 *   when its device, inode, size, modification or change time differ (a refusal is remembered
 *   the same way);
 * - only a regular file is read: `stat` first, so a FIFO or a device is refused without being
 *   opened; then opened with O_NONBLOCK (a FIFO swapped in after the `stat` cannot block the
 *   open) and checked again on the open descriptor (`fstat`) before a byte is read; a file any user may write (o+w) is refused;
 * - at most MAX_CERTIFICATE_FILE_BYTES are read;
 * - the text must be PEM CERTIFICATE blocks and nothing else (blank lines aside): the model
 *   certificate first, then any intermediates (trust.ts reads them), at most
 *   MAX_PEM_CERTIFICATES. Text before, between or after the blocks, another kind of block (a
 *   private key), a block without its END line: refused, so that a wrong file is noticed.
 * Symbolic links are followed: the path is the caller's, and mounted secrets are laid out as links.
 */
import type * as Fs from 'node:fs';
import { constants } from 'node:fs';
// The module's own object, whose functions are looked up at each call (the tests count opens).
import fs from 'node:fs/promises';
type FsPromisesModule = typeof fs;
import { InvalidCertificateError } from '../errors.js';
import { PEM_CERTIFICATE_BEGIN as BEGIN, PEM_CERTIFICATE_END as END, pemBeginLabel } from '../protocol/pem.js';
import { MAX_PEM_CERTIFICATES } from './trust.js';

/** A certificate file larger than this is refused unread: a PEM chain is a few kilobytes. */
export const MAX_CERTIFICATE_FILE_BYTES = 64 * 1024;

const BASE64_LINE = /^[A-Za-z0-9+/]*={0,2}$/;
/** Windows has no such mode bits (stat reports 0o666 for any writable file). */
const WINDOWS = process.platform === 'win32';

type Stats = Pick<Fs.Stats, 'dev' | 'ino' | 'size' | 'mtimeMs' | 'ctimeMs' | 'mode'> & {
  isFile(): boolean;
  isDirectory(): boolean;
  isFIFO(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSocket(): boolean;
};

/** What a read found for one version of the file: its text, or why it was refused. */
interface Outcome {
  identity: string;
  text?: string;
  why?: string;
}

function identityOf(stats: Stats): string {
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}`;
}

function kindOf(stats: Stats): string {
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isDirectory()) return 'a folder';
  if (stats.isSocket()) return 'a socket';
  return 'not a plain file';
}

/** Why a regular file's `stats` cannot be a certificate file, or `undefined`. */
function statsProblem(stats: Stats): string | undefined {
  if (!stats.isFile()) return `is not a regular file (${kindOf(stats)})`;
  // Whoever can write the file chooses who can read every request: not any local user.
  if (!WINDOWS && (stats.mode & 0o002) !== 0) {
    return 'can be written by any user of this machine (mode o+w); `chmod o-w` it';
  }
  if (stats.size > MAX_CERTIFICATE_FILE_BYTES) {
    return `is ${stats.size} bytes; a certificate file is at most ${MAX_CERTIFICATE_FILE_BYTES} bytes`;
  }
  return undefined;
}

/**
 * Why `text` is not PEM CERTIFICATE blocks and nothing else, or `undefined`. One pass over the
 * lines; the base64 itself is decoded later, by the certificate parser.
 */
export function certificateFileProblem(text: string): string | undefined {
  const lines = text.split(/\r?\n/);
  let blocks = 0;
  let openedAt = 0;
  for (const [index, raw] of lines.entries()) {
    const line = raw.trimEnd();
    const number = index + 1;
    if (openedAt === 0) {
      if (line === '') continue;
      if (line === BEGIN) {
        openedAt = number;
        continue;
      }
      const other = pemBeginLabel(line);
      if (other !== undefined) return `holds a ${other} block (line ${number}); only CERTIFICATE blocks belong in this file`;
      return blocks > 0 && lines.slice(index).every((rest) => !rest.startsWith(BEGIN))
        ? `has text after the last certificate block (line ${number})`
        : `has text outside the certificate blocks (line ${number})`;
    }
    if (line === END) {
      blocks++;
      openedAt = 0;
      continue;
    }
    if (!BASE64_LINE.test(line)) return `line ${number} of the file is not base64 (inside the certificate block of line ${openedAt})`;
  }
  if (openedAt !== 0) return `the certificate block that starts on line ${openedAt} has no END line`;
  if (blocks === 0) return `holds no '${BEGIN}' block`;
  if (blocks > MAX_PEM_CERTIFICATES) {
    return `holds ${blocks} certificate blocks; at most ${MAX_PEM_CERTIFICATES} (the model certificate, then its chain)`;
  }
  return undefined;
}

/** Reads the regular file at `path` (checked on the open descriptor), at most the limit. */
async function readBounded(fs: FsPromisesModule, constants: typeof Fs.constants, path: string): Promise<Outcome> {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, for ever.
  const handle = await fs.open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    const stats = (await handle.stat()) as Stats;
    const identity = identityOf(stats);
    const problem = statsProblem(stats);
    if (problem !== undefined) return { identity, why: problem };
    const buffer = new Uint8Array(MAX_CERTIFICATE_FILE_BYTES + 1);
    let size = 0;
    while (size < buffer.byteLength) {
      const { bytesRead } = await handle.read(buffer, size, buffer.byteLength - size, null);
      if (bytesRead === 0) break;
      size += bytesRead;
    }
    if (size > MAX_CERTIFICATE_FILE_BYTES) {
      return { identity, why: `grew past ${MAX_CERTIFICATE_FILE_BYTES} bytes while it was read; a certificate file is at most that` };
    }
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(buffer.subarray(0, size));
    } catch {
      return { identity, why: 'is not text (a PEM file is ASCII)' };
    }
    const layout = certificateFileProblem(text);
    return layout === undefined ? { identity, text } : { identity, why: layout };
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/**
 * The certificate option for `E2E_CERTIFICATE_PATH=path`: a function that gives the file's text,
 * reading it only when it changed, or throws InvalidCertificateError saying what is wrong.
 */
export function certificateFileReader(path: string): () => Promise<string> {
  let last: Outcome | undefined;
  let reading: { identity: string; promise: Promise<Outcome> } | undefined;

  const fail = (why: string, cause?: unknown): never => {
    throw new InvalidCertificateError(
      `the certificate file named by E2E_CERTIFICATE_PATH (${path}) ${why}; point E2E_CERTIFICATE_PATH at a PEM ` +
        "file holding only the model's certificate (then any intermediates), or unset it",
      cause === undefined ? undefined : { cause },
    );
  };
  // Stryker disable next-line StringLiteral: every Outcome has `text` or `why` (readBounded and statsProblem set one), so the fallback is never used
  const settle = (outcome: Outcome): string => (outcome.text !== undefined ? outcome.text : fail(outcome.why ?? 'cannot be read'));

  return async () => {
    let stats: Stats;
    try {
      stats = (await fs.stat(path)) as Stats;
    } catch (error) {
      return fail(`cannot be read (${(error as Error).message})`, error);
    }
    const identity = identityOf(stats);
    if (last?.identity === identity) return settle(last);
    const problem = statsProblem(stats);
    if (problem !== undefined) {
      last = { identity, why: problem };
      return settle(last);
    }
    let current = reading;
    if (current?.identity !== identity) {
      const promise = readBounded(fs, constants, path);
      const started = { identity, promise };
      current = reading = started;
      promise.then(
        (outcome) => {
          // Remembered under what was actually read (the open file), which the next stat must match.
          last = outcome;
          if (reading === started) reading = undefined;
        },
        () => {
          if (reading === started) reading = undefined;
        },
      );
    }
    let outcome: Outcome;
    try {
      outcome = await current.promise;
    } catch (error) {
      return fail(`cannot be read (${(error as Error).message})`, error);
    }
    return settle(outcome);
  };
}
