/**
 * E2E_CERTIFICATE_PATH (issue 17 item 5): the file is read once per change, only when it is a
 * regular file of at most 64 KB holding nothing but PEM CERTIFICATE blocks. A FIFO, a device,
 * a folder, a huge file or one with text after its PEM is refused with InvalidCertificateError,
 * at once, without blocking a thread or reading it whole.
 */
import { execFileSync } from 'node:child_process';
import type * as Fs from 'node:fs/promises';
import { appendFile, chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { MAX_CERTIFICATE_FILE_BYTES, certificateFileReader } from '../../src/certificates/certificate-file.js';
import { MAX_PEM_CERTIFICATES } from '../../src/certificates/trust.js';
import { InvalidCertificateError } from '../../src/errors.js';
import { createEncryptedFetch } from '../../src/index.js';
import { startMockArkServer, type MockArkServer } from '../../src/testing/index.js';
import { PLAIN, PLAIN_2, chat, chatRequests, contentOf, useTempCacheDir } from './helpers.js';

let tmp = '';
useTempCacheDir((dirs) => {
  tmp = dirs.tmp;
});

/** The promises API the reader uses, to count what it opens. */
const fsPromises = process.getBuiltinModule('node:fs/promises') as typeof Fs;
const countOpens = () => vi.spyOn(fsPromises, 'open');

async function refused(path: string, expected: RegExp): Promise<InvalidCertificateError> {
  const error = await Promise.resolve()
    .then(() => certificateFileReader(path)())
    .catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(InvalidCertificateError);
  expect((error as Error).message).toContain(`E2E_CERTIFICATE_PATH (${path})`);
  expect((error as Error).message).toMatch(expected);
  return error as InvalidCertificateError;
}

const canMakeFifo = process.platform !== 'win32';

describe('what is read', () => {
  it('a PEM file is read as it is', async () => {
    const file = join(tmp, 'model.pem');
    await writeFile(file, PLAIN);
    expect(await certificateFileReader(file)()).toBe(PLAIN);
  });

  it('the model certificate followed by its chain (several CERTIFICATE blocks), with blank lines and CRLF', async () => {
    const file = join(tmp, 'chain.pem');
    const text = `\n${PLAIN.replaceAll('\n', '\r\n')}\n\n${PLAIN_2}\n`;
    await writeFile(file, text);
    expect(await certificateFileReader(file)()).toBe(text);
  });

  it('a symbolic link to the file is followed (as a mounted secret is laid out), and the target is what counts', async () => {
    const file = join(tmp, 'target.pem');
    await writeFile(file, PLAIN);
    await symlink(file, join(tmp, 'link.pem'));
    expect(await certificateFileReader(join(tmp, 'link.pem'))()).toBe(PLAIN);
  });
});

describe('read once per change', () => {
  it('an unchanged file is not opened again; a changed one is read afresh', async () => {
    const file = join(tmp, 'model.pem');
    await writeFile(file, PLAIN);
    const opens = countOpens();
    const read = certificateFileReader(file);
    expect(await read()).toBe(PLAIN);
    expect(await read()).toBe(PLAIN);
    expect(await read()).toBe(PLAIN);
    expect(opens).toHaveBeenCalledTimes(1);
    await writeFile(file, PLAIN_2);
    expect(await read()).toBe(PLAIN_2);
    expect(opens).toHaveBeenCalledTimes(2);
  });

  it('many requests at once while the file is new: one read', async () => {
    const file = join(tmp, 'model.pem');
    await writeFile(file, PLAIN);
    const opens = countOpens();
    const read = certificateFileReader(file);
    expect(new Set(await Promise.all(Array.from({ length: 20 }, () => read())))).toEqual(new Set([PLAIN]));
    expect(opens).toHaveBeenCalledTimes(1);
  });

  it('a refused file is remembered until it changes, then the fixed file is used', async () => {
    const file = join(tmp, 'model.pem');
    await writeFile(file, `${PLAIN}junk\n`);
    const opens = countOpens();
    const read = certificateFileReader(file);
    await expect(read()).rejects.toThrow(InvalidCertificateError);
    await expect(read()).rejects.toThrow(/text after the last certificate block/);
    expect(opens).toHaveBeenCalledTimes(1);
    await writeFile(file, PLAIN);
    expect(await read()).toBe(PLAIN);
  });
});

describe('refused, each with what to do', () => {
  it.skipIf(!canMakeFifo)('a FIFO: refused at once, without opening it (a read would block a thread for ever)', async () => {
    const fifo = join(tmp, 'fifo.pem');
    execFileSync('mkfifo', [fifo]);
    const opens = countOpens();
    await refused(fifo, /is not a regular file \(a FIFO\)/);
    expect(opens).not.toHaveBeenCalled();
  });

  it.skipIf(process.platform === 'win32')('/dev/zero: refused without reading a byte', async () => {
    const opens = countOpens();
    await refused('/dev/zero', /is not a regular file \(a character device\)/);
    expect(opens).not.toHaveBeenCalled();
  });

  it.skipIf(process.platform === 'win32')('a file any user of the machine may write (o+w): whoever writes it chooses the key', async () => {
    const file = join(tmp, 'shared.pem');
    await writeFile(file, PLAIN);
    await chmod(file, 0o666);
    await refused(file, /can be written by any user of this machine \(mode o\+w\); `chmod o-w` it/);
    await chmod(file, 0o664);
    expect(await certificateFileReader(file)()).toBe(PLAIN);
  });

  it('a folder', async () => {
    await mkdir(join(tmp, 'folder'));
    await refused(join(tmp, 'folder'), /is not a regular file \(a folder\)/);
  });

  it(`a file over ${MAX_CERTIFICATE_FILE_BYTES} bytes (a PEM followed by 200 KB of junk): refused without reading it`, async () => {
    const file = join(tmp, 'big.pem');
    await writeFile(file, PLAIN);
    await appendFile(file, Buffer.alloc(200 * 1024, 'x'));
    const opens = countOpens();
    await refused(file, new RegExp(`is ${PLAIN.length + 200 * 1024} bytes; a certificate file is at most ${MAX_CERTIFICATE_FILE_BYTES}`));
    expect(opens).not.toHaveBeenCalled();
  });

  it('text after the last certificate block', async () => {
    const file = join(tmp, 'junk.pem');
    await writeFile(file, `${PLAIN}this is not PEM\n`);
    await refused(file, /has text after the last certificate block \(line \d+\)/);
  });

  it('text before the first block, or between blocks', async () => {
    const before = join(tmp, 'before.pem');
    await writeFile(before, `subject=CN=x\n${PLAIN}`);
    await refused(before, /has text outside the certificate blocks \(line 1\)/);
    const between = join(tmp, 'between.pem');
    await writeFile(between, `${PLAIN}note\n${PLAIN_2}`);
    await refused(between, /has text outside the certificate blocks/);
  });

  it('another kind of PEM block (a private key does not belong in this file)', async () => {
    const file = join(tmp, 'key.pem');
    await writeFile(file, `${PLAIN}-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n`);
    await refused(file, /holds a PRIVATE KEY block \(line \d+\); only CERTIFICATE blocks belong/);
  });

  it('a block without its END line, a line that is not base64, and no block at all', async () => {
    const cut = join(tmp, 'cut.pem');
    await writeFile(cut, PLAIN.replace('-----END CERTIFICATE-----\n', ''));
    await refused(cut, /certificate block that starts on line 1 has no END line/);
    const bad = join(tmp, 'bad.pem');
    await writeFile(bad, PLAIN.replace(/\n(.)/, '\n*$1'));
    await refused(bad, /line 2 of the file is not base64/);
    const empty = join(tmp, 'empty.pem');
    await writeFile(empty, '\n');
    await refused(empty, /holds no '-----BEGIN CERTIFICATE-----' block/);
  });

  it(`more than ${MAX_PEM_CERTIFICATES} certificate blocks`, async () => {
    const file = join(tmp, 'many.pem');
    await writeFile(file, PLAIN.repeat(MAX_PEM_CERTIFICATES + 1));
    await refused(file, new RegExp(`holds ${MAX_PEM_CERTIFICATES + 1} certificate blocks; at most ${MAX_PEM_CERTIFICATES}`));
  });

  it('bytes that are not UTF-8 text', async () => {
    const file = join(tmp, 'binary.pem');
    await writeFile(file, Buffer.from([0x30, 0x82, 0xff, 0xfe]));
    await refused(file, /is not text/);
  });

  it('a file that does not exist', async () => {
    await refused(join(tmp, 'missing.pem'), /cannot be read \(ENOENT/);
  });
});

describe('through createEncryptedFetch', () => {
  let server: MockArkServer;
  beforeAll(async () => {
    server = await startMockArkServer({ apiKey: 'file-test-key' });
  });
  afterAll(async () => {
    await server.close();
  });

  it.skipIf(!canMakeFifo)('E2E_CERTIFICATE_PATH naming a FIFO: InvalidCertificateError, and nothing is sent', async () => {
    const fifo = join(tmp, 'fifo.pem');
    execFileSync('mkfifo', [fifo]);
    vi.stubEnv('E2E_CERTIFICATE_PATH', fifo);
    const fetchFn = createEncryptedFetch({ errors: 'throw', cacheDir: false });
    const before = server.requests.length;
    for (let i = 0; i < 5; i++) {
      const error = await chat(fetchFn, server.url, { key: 'file-test-key' }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(InvalidCertificateError);
    }
    expect(server.requests.length).toBe(before);
  });

  it('a PEM file works, and a change to it is picked up', async () => {
    const file = join(tmp, 'model.pem');
    await writeFile(file, server.certificatePem);
    vi.stubEnv('E2E_CERTIFICATE_PATH', file);
    const fetchFn = createEncryptedFetch({ errors: 'throw', cacheDir: false });
    expect(await contentOf(await chat(fetchFn, server.url, { key: 'file-test-key', text: 'one' }))).toBe('echo: one');
    await writeFile(file, `${server.certificatePem}trailing junk\n`);
    await expect(chat(fetchFn, server.url, { key: 'file-test-key' })).rejects.toThrow(/E2E_CERTIFICATE_PATH .*text after the last certificate block/);
    expect(chatRequests(server)).toHaveLength(1);
  });

  it('the `env` option, when given, is where E2E_CERTIFICATE_PATH is read (the CLI passes its io.env)', async () => {
    const junk = join(tmp, 'junk.pem');
    await writeFile(junk, 'not a certificate\n');
    const before = server.requests.length;
    // Named in the env option only: used (and refused), the service's certificate never asked for.
    const fromOption = createEncryptedFetch({ errors: 'throw', cacheDir: false, env: { E2E_CERTIFICATE_PATH: junk } });
    await expect(chat(fromOption, server.url, { key: 'file-test-key' })).rejects.toBeInstanceOf(InvalidCertificateError);
    expect(server.requests.length).toBe(before);
    // Named in the process environment only, with an env option that lacks it: not used.
    vi.stubEnv('E2E_CERTIFICATE_PATH', junk);
    const fromProcess = createEncryptedFetch({ errors: 'throw', cacheDir: false, env: {} });
    expect(await contentOf(await chat(fromProcess, server.url, { key: 'file-test-key', text: 'two' }))).toBe('echo: two');
  });
});
