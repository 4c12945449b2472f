/**
 * src/certificates/certificate-file.ts at its edges (issue 16): the size limit to the byte, the
 * PEM layout rules line by line, the checks made again on the open descriptor, the reading loop,
 * and the bookkeeping of reads that overlap or fail. The file system is real; where a race is
 * needed (a file replaced between `stat` and `open`, a read still running when the next request
 * comes) the test holds `open` on a promise it releases itself, so the order is fixed.
 * The constants fixed when the module loads (the limit, the base64 line pattern, Windows) are
 * checked on a copy imported afresh inside the test.
 */
import { execFileSync } from 'node:child_process';
import type * as Fs from 'node:fs/promises';
import { chmod, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { MAX_CERTIFICATE_FILE_BYTES, certificateFileProblem, certificateFileReader } from '../../src/certificates/certificate-file.js';
import { MAX_PEM_CERTIFICATES } from '../../src/certificates/trust.js';
import { PLAIN, PLAIN_2, gate, useTempCacheDir } from '../certificates/helpers.js';

let tmp = '';
useTempCacheDir((dirs) => {
  tmp = dirs.tmp;
});

const posix = process.platform !== 'win32';
const fsPromises = process.getBuiltinModule('node:fs/promises') as typeof Fs;
const realOpen = fsPromises.open;
const LIMIT = 65536;
const TO_DO = "point E2E_CERTIFICATE_PATH at a PEM file holding only the model's certificate (then any intermediates), or unset it";

/** What the reader threw (it must throw), with the code every refusal carries. */
async function refusal(read: () => Promise<string>): Promise<Error & { code: string }> {
  const error = (await read().then(
    () => undefined,
    (caught: unknown) => caught,
  )) as Error & { code: string };
  expect(error).toBeInstanceOf(Error);
  expect(error.code).toBe('ERR_ARK_E2EE_INVALID_CERTIFICATE');
  return error;
}

const fullMessage = (path: string, why: string): string => `the certificate file named by E2E_CERTIFICATE_PATH (${path}) ${why}; ${TO_DO}`;

/** PLAIN preceded by lines of spaces (blank, so allowed) to make exactly `size` bytes, ending on its END line. */
function pemOfSize(size: number): string {
  const pem = PLAIN.trimEnd();
  return `${' '.repeat(size - pem.length - 1)}\n${pem}`;
}

async function fileWith(name: string, text: string, mode = 0o644): Promise<string> {
  const file = join(tmp, name);
  await writeFile(file, text);
  await chmod(file, mode);
  return file;
}

/** A copy of the module loaded now, so that its module-level constants are evaluated again. */
async function freshModule(): Promise<typeof import('../../src/certificates/certificate-file.js')> {
  vi.resetModules();
  onTestFinished(() => {
    vi.resetModules();
  });
  return import('../../src/certificates/certificate-file.js');
}

/** Fake `stat` results of a kind that is not a regular file. */
function statsOf(kind: 'block' | 'socket' | 'other'): Record<string, unknown> {
  return {
    dev: 1, ino: 2, size: 0, mtimeMs: 3, ctimeMs: 4, mode: 0o600,
    isFile: () => false,
    isDirectory: () => false,
    isFIFO: () => false,
    isCharacterDevice: () => false,
    isBlockDevice: () => kind === 'block',
    isSocket: () => kind === 'socket',
  };
}

describe('module-level values, loaded afresh', () => {
  it(`the limit is ${LIMIT} bytes: a file of exactly that is read whole, one byte more is refused unread`, async () => {
    const fresh = await freshModule();
    expect(fresh.MAX_CERTIFICATE_FILE_BYTES).toBe(LIMIT);
    const atLimit = await fileWith('at-limit.pem', pemOfSize(LIMIT));
    expect(await fresh.certificateFileReader(atLimit)()).toBe(pemOfSize(LIMIT));
    const over = await fileWith('over.pem', pemOfSize(LIMIT + 1));
    const error = await refusal(fresh.certificateFileReader(over));
    expect(error.message).toBe(fullMessage(over, `is ${LIMIT + 1} bytes; a certificate file is at most ${LIMIT} bytes`));
  });

  it('a base64 line is checked from its start to its end, and holds base64 characters then at most two =', async () => {
    const { certificateFileProblem: problem } = await freshModule();
    expect(problem(PLAIN)).toBeUndefined();
    expect(problem(PLAIN_2 + PLAIN)).toBeUndefined();
    const block = (line: string): string => `-----BEGIN CERTIFICATE-----\n${line}\n-----END CERTIFICATE-----\n`;
    expect(problem(block('QUJD'))).toBeUndefined();
    expect(problem(block('QUI='))).toBeUndefined();
    expect(problem(block('QQ=='))).toBeUndefined();
    const notBase64 = 'line 2 of the file is not base64 (inside the certificate block of line 1)';
    expect(problem(block('*QUJD'))).toBe(notBase64);
    expect(problem(block('QUJD*'))).toBe(notBase64);
    expect(problem(block('Q==='))).toBe(notBase64);
  });

  it.skipIf(!posix)('mode o+w refuses the file, except on Windows (which has no such bits)', async () => {
    const shared = await fileWith('shared.pem', PLAIN, 0o666);
    const here = await freshModule();
    expect((await refusal(here.certificateFileReader(shared))).message).toBe(
      fullMessage(shared, 'can be written by any user of this machine (mode o+w); `chmod o-w` it'),
    );
    const original = Object.getOwnPropertyDescriptor(process, 'platform')!;
    Object.defineProperty(process, 'platform', { ...original, value: 'win32' });
    try {
      const windows = await freshModule();
      expect(await windows.certificateFileReader(shared)()).toBe(PLAIN);
    } finally {
      Object.defineProperty(process, 'platform', original);
    }
  });
});

describe('what is not a regular file is named', () => {
  it.each([
    ['block', 'a block device'],
    ['socket', 'a socket'],
    ['other', 'not a plain file'],
  ] as const)('a %s', async (kind, name) => {
    vi.spyOn(fsPromises, 'stat').mockResolvedValue(statsOf(kind) as never);
    const opens = vi.spyOn(fsPromises, 'open');
    const path = join(tmp, 'thing');
    expect((await refusal(certificateFileReader(path))).message).toBe(fullMessage(path, `is not a regular file (${name})`));
    expect(opens).not.toHaveBeenCalled();
  });
});

describe('the PEM layout', () => {
  it(`a file of exactly ${LIMIT} bytes is read (the limit is inclusive)`, async () => {
    const file = await fileWith('at-limit.pem', pemOfSize(MAX_CERTIFICATE_FILE_BYTES));
    expect(await certificateFileReader(file)()).toBe(pemOfSize(MAX_CERTIFICATE_FILE_BYTES));
  });

  it('spaces at the end of a line are ignored; at its start they make it not base64', () => {
    expect(certificateFileProblem(PLAIN.replaceAll('\n', '  \n'))).toBeUndefined();
    expect(certificateFileProblem(PLAIN.replace(/\n(.)/, '\n $1'))).toBe('line 2 of the file is not base64 (inside the certificate block of line 1)');
  });

  it('text in a file with no block at all is "outside", not "after the last block"', () => {
    expect(certificateFileProblem('hello\n')).toBe('has text outside the certificate blocks (line 1)');
  });

  it('a BEGIN line with spaces after it still counts as a block to come: the text is "outside"', () => {
    const lines = PLAIN.trimEnd().split('\n').length;
    expect(certificateFileProblem(`${PLAIN}note\n-----BEGIN CERTIFICATE-----  \n${PLAIN_2.split('\n').slice(1).join('\n')}`)).toBe(
      `has text outside the certificate blocks (line ${lines + 1})`,
    );
    expect(certificateFileProblem(`${PLAIN}note\n`)).toBe(`has text after the last certificate block (line ${lines + 1})`);
  });

  it(`exactly ${MAX_PEM_CERTIFICATES} blocks are taken; one more is refused`, () => {
    expect(certificateFileProblem(PLAIN.repeat(MAX_PEM_CERTIFICATES))).toBeUndefined();
    expect(certificateFileProblem(PLAIN.repeat(MAX_PEM_CERTIFICATES + 1))).toBe(
      `holds ${MAX_PEM_CERTIFICATES + 1} certificate blocks; at most ${MAX_PEM_CERTIFICATES} (the model certificate, then its chain)`,
    );
  });
});

describe('checked again on the open descriptor, and read within bounds', () => {
  it.skipIf(!posix)('a FIFO put where stat saw a file: opened without waiting for a writer, then refused by fstat', async () => {
    const model = await fileWith('model.pem', PLAIN);
    const fifo = join(tmp, 'fifo.pem');
    execFileSync('mkfifo', [fifo]);
    const regular = await fsPromises.stat(model);
    vi.spyOn(fsPromises, 'stat').mockResolvedValue(regular);
    const settled = certificateFileReader(fifo)().then(
      () => 'read',
      (error: Error) => error.message,
    );
    // A blocking open would wait for ever; a writer arriving late lets it go, and is a failure.
    let late = false;
    const guard = setTimeout(() => {
      late = true;
      void realOpen.call(fsPromises, fifo, 'w').then((writer) => writer.close());
    }, 2000);
    const message = await settled;
    clearTimeout(guard);
    expect(late).toBe(false);
    expect(message).toBe(fullMessage(fifo, 'is not a regular file (a FIFO)'));
  });

  it('a file that grew after stat past the limit is refused, reading no more than the limit and one byte', async () => {
    const file = await fileWith('growing.pem', pemOfSize(70_000));
    const small = { size: 100 };
    const realStat = fsPromises.stat;
    vi.spyOn(fsPromises, 'stat').mockImplementation(async (path) => Object.assign(await realStat(path), small));
    const handles: Fs.FileHandle[] = [];
    vi.spyOn(fsPromises, 'open').mockImplementation(async (...args: Parameters<typeof realOpen>) => {
      const handle = await realOpen.apply(fsPromises, args);
      const stat = handle.stat.bind(handle);
      vi.spyOn(handle, 'stat').mockImplementation(async () => Object.assign(await stat(), small));
      vi.spyOn(handle, 'read');
      vi.spyOn(handle, 'close');
      handles.push(handle);
      return handle;
    });
    const error = await refusal(certificateFileReader(file));
    expect(error.message).toBe(fullMessage(file, `grew past ${LIMIT} bytes while it was read; a certificate file is at most that`));
    expect(handles).toHaveLength(1);
    expect(handles[0]!.read).toHaveBeenCalledTimes(1);
    expect(handles[0]!.close).toHaveBeenCalledTimes(1);
  });

  it('the file is closed after a good read too', async () => {
    const file = await fileWith('model.pem', PLAIN);
    const closes: unknown[] = [];
    vi.spyOn(fsPromises, 'open').mockImplementation(async (...args: Parameters<typeof realOpen>) => {
      const handle = await realOpen.apply(fsPromises, args);
      closes.push(vi.spyOn(handle, 'close'));
      return handle;
    });
    expect(await certificateFileReader(file)()).toBe(PLAIN);
    expect(closes).toHaveLength(1);
    expect(closes[0]).toHaveBeenCalledTimes(1);
  });
});

describe('causes and messages', () => {
  it('a file that cannot be stat-ed keeps the system error as the cause; a layout refusal has none', async () => {
    const missing = join(tmp, 'missing.pem');
    const error = await refusal(certificateFileReader(missing));
    expect((error.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
    expect(error.message).toBe(fullMessage(missing, `cannot be read (${(error.cause as Error).message})`));
    const junk = await fileWith('junk.pem', 'junk\n');
    const refused = await refusal(certificateFileReader(junk));
    expect(Object.hasOwn(refused, 'cause')).toBe(false);
    expect(refused.message).toBe(fullMessage(junk, 'has text outside the certificate blocks (line 1)'));
  });

  it('an open that fails: the error is the cause, and the next request opens the file again', async () => {
    const file = await fileWith('model.pem', PLAIN);
    const denied = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    const opens = vi.spyOn(fsPromises, 'open').mockRejectedValueOnce(denied);
    const read = certificateFileReader(file);
    const error = await refusal(read);
    expect(error.cause).toBe(denied);
    expect(error.message).toBe(fullMessage(file, 'cannot be read (EACCES: permission denied)'));
    expect(await read()).toBe(PLAIN);
    expect(opens).toHaveBeenCalledTimes(2);
  });
});

describe('reads that overlap, or that saw another file than stat did', () => {
  it('what was read is remembered under the file opened, not the one stat saw', async () => {
    const file = await fileWith('model.pem', PLAIN);
    const realStat = fsPromises.stat;
    // stat saw an older version (another modification time) than the one then opened.
    const older = async (path: Parameters<typeof realStat>[0]) => Object.assign(await realStat(path), { mtimeMs: 1 });
    const stat = vi.spyOn(fsPromises, 'stat');
    const opens = vi.spyOn(fsPromises, 'open');
    const read = certificateFileReader(file);
    stat.mockImplementationOnce(older);
    expect(await read()).toBe(PLAIN);
    // stat now agrees with what was read: answered from memory.
    expect(await read()).toBe(PLAIN);
    expect(opens).toHaveBeenCalledTimes(1);
    // stat again reports the version never read: read afresh, not joined to the finished read.
    stat.mockImplementationOnce(older);
    expect(await read()).toBe(PLAIN);
    expect(opens).toHaveBeenCalledTimes(2);
  });

  /**
   * Request 1 reads the old file (held open), the file is replaced, request 2 starts reading the
   * new one (held too); request 1's read then ends (or fails). Request 3 must join request 2's
   * read, not start a third.
   */
  it.each([
    ['ends', false],
    ['fails', true],
  ])('an older read that %s while a newer one runs does not drop the newer one', async (_name, fails) => {
    const file = await fileWith('model.pem', PLAIN);
    const first = gate();
    const second = gate();
    const held = [first, second];
    const opened = [gate(), gate()];
    const broken = new Error('EIO: i/o error');
    const opens = vi.spyOn(fsPromises, 'open').mockImplementation(async (...args: Parameters<typeof realOpen>) => {
      opened[held.length === 2 ? 0 : 1]!.open();
      const hold = held.shift();
      const handle = await realOpen.apply(fsPromises, args);
      await hold?.promise;
      if (hold === first && fails) {
        await handle.close();
        throw broken;
      }
      return handle;
    });
    const read = certificateFileReader(file);
    const one = read().then(
      (text) => text,
      (error: Error) => error,
    );
    await opened[0]!.promise;
    const next = join(tmp, 'next.pem');
    await writeFile(next, `${PLAIN_2}\n`);
    await rename(next, file);
    const two = read();
    await opened[1]!.promise;
    first.open();
    const oneResult = await one;
    if (fails) expect((oneResult as Error).cause).toBe(broken);
    else expect(oneResult).toBe(PLAIN);
    const three = read();
    second.open();
    expect(await two).toBe(`${PLAIN_2}\n`);
    expect(await three).toBe(`${PLAIN_2}\n`);
    expect(opens).toHaveBeenCalledTimes(2);
  });
});
