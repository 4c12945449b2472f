/** `ark-e2ee proxy`: a local HTTP proxy that gives any OpenAI-compatible client Ark encryption. */
import { parseArgs } from 'node:util';
import { DEFAULT_MAX_REQUEST_BYTES, startEncryptingProxy, type ProxyLogEntry } from '../../transport/proxy.js';
import { UsageError, type Command } from '../command.js';
import { isLoopback } from '../../certificates/origin.js';
import { ACCESS_KEY_HELP, ACCESS_KEY_NOTE, ACCESS_KEY_OPTIONS, accessKeysOf } from '../access-keys.js';
import { baseUrlOf, CACHE_HELP, CACHE_OPTIONS, cacheDirOf, portOf, TRUST_HELP, TRUST_OPTIONS, trustOf } from '../options.js';

const HELP = `Usage: ark-e2ee proxy [--upstream URL] [--host H [--allow-remote]] [--port N] [--encrypt-all]
                      [--aicc] [--max-body SIZE] [--cache-dir DIR | --no-cache] [--certificate-cache-size N]

An HTTP proxy with the OpenAI path layout. Point any OpenAI-compatible client (curl, Python's
openai or urllib, Go…) at the proxy root, e.g. base URL http://127.0.0.1:8787: the path it asks
for is appended to the upstream's, so POST /chat/completions goes to
{upstream}/chat/completions. Requests carrying "x-is-encrypted: true" are encrypted on the way
up and their answers decrypted on the way down, streams as they flow; everything else passes
through as it is. The client's Authorization header goes upstream unchanged (and is used to
fetch the model's certificate).
${ACCESS_KEY_NOTE}

  --upstream URL  the Ark base URL (default $ARK_BASE_URL, else
                  https://ark.cn-beijing.volces.com/api/v3)
  --host H        address to bind (default 127.0.0.1: this machine only); an address other
                  than loopback needs --allow-remote
  --allow-remote  let other machines use the proxy: their chats reach it in plain text (and
                  their API keys with them) before it encrypts them
  --port N        port to listen on (default 8787; 0 picks a free one)
  --encrypt-all   encrypt every POST …/chat/completions and …/batch/chat/completions, with or
                  without the header; refuse (400) any other request whose JSON body carries
                  "messages" (another spelling of the path, another method, the bot API, which
                  the protocol does not cover): chat messages never go up in plain text
  --aicc          AICC mode (default: VOLC_ARK_ENCRYPTION=AICC)
  --max-body SIZE the largest request body the proxy encrypts, in bytes or with a K, M or G
                  suffix (powers of 1024; default 64M). It must hold such a body whole; a larger
                  one is answered 413 and the rest is not read. Bodies it does not encrypt
                  stream through
${CACHE_HELP}
  --certificate-cache-size N  certificates held in memory, one per model (default 1000; the
                  least recently used is dropped past it)
${TRUST_HELP}
${ACCESS_KEY_HELP}

Prints "listening on http://HOST:PORT" when ready, then one line per request on stderr
(method, path, status, what went upstream, time): encrypted=yes (sent encrypted),
encrypted=no (sent in plain text: no encryption asked for), or encrypted=refused (encryption
asked for, nothing sent). Errors of its own are OpenAI-style JSON
{"error":{"message","type","code"}}: 400 for a request that cannot be encrypted or whose target
is neither a path nor an http(s) URL (nothing is sent), 404 for a path that repeats the
upstream's base path (give clients the proxy root, not .../api/v3), 413 for a body over
--max-body, 502 when the certificate cannot be had or an answer does not decrypt. A stream
that fails half-way is cut. Stops cleanly on SIGINT or SIGTERM (exit code 0).`;

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** `--max-body`: bytes, or a number with a K, M or G suffix (an optional trailing B or iB too). */
export function parseSize(text: string): number {
  const match = /^(\d+)\s*(?:([kmg])(?:i?b)?|b)?$/i.exec(text.trim());
  const bytes = match ? Number(match[1]) * SIZE_UNITS[(match[2] ?? '').toLowerCase()]! : Number.NaN;
  if (!Number.isSafeInteger(bytes) || bytes < 1) {
    throw new UsageError(`--max-body must be a size such as 65536, 512K or 64M (1 byte or more), not "${text}"`);
  }
  return bytes;
}

function logLine(entry: ProxyLogEntry): string {
  const status = entry.status === 0 ? '---' : String(entry.status);
  const error = entry.error ? ` (${entry.error})` : '';
  let what = 'encrypted=no';
  if (entry.sent === 'encrypted') what = 'encrypted=yes';
  else if (entry.encrypted) what = 'encrypted=refused, nothing sent';
  else if (entry.sent === 'nothing') what = 'encrypted=no, nothing sent';
  return `${entry.method} ${entry.path} ${status} ${what} ${entry.ms}ms${error}\n`;
}

function isLoopbackHost(host: string): boolean {
  return isLoopback(`http://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}/`);
}

export const proxyCommand: Command = {
  name: 'proxy',
  summary: 'an HTTP proxy that encrypts chat completions for any OpenAI-compatible client',
  help: HELP,
  async run(args, io) {
    const { values } = parseArgs({
      args,
      options: {
        upstream: { type: 'string' },
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string', default: '8787' },
        'encrypt-all': { type: 'boolean', default: false },
        'max-body': { type: 'string', default: String(DEFAULT_MAX_REQUEST_BYTES) },
        'allow-remote': { type: 'boolean', default: false },
        'certificate-cache-size': { type: 'string' },
        aicc: { type: 'boolean' },
        ...CACHE_OPTIONS,
        ...TRUST_OPTIONS,
        ...ACCESS_KEY_OPTIONS,
      },
    });
    const upstream = baseUrlOf(values.upstream, io);
    if (!URL.canParse(upstream) || !/^https?:$/.test(new URL(upstream).protocol)) {
      throw new UsageError(`--upstream must be an http: or https: URL, not "${upstream}"`);
    }
    const size = values['certificate-cache-size'];
    if (size !== undefined && !/^[1-9]\d{0,8}$/.test(size)) {
      throw new UsageError(`--certificate-cache-size must be a whole number from 1, not "${size}"`);
    }
    const port = portOf(values.port);
    const remote = !isLoopbackHost(values.host);
    if (remote && !values['allow-remote']) {
      throw new UsageError(
        `--host ${values.host} lets other machines send chats to the proxy in plain text; add --allow-remote if that is meant`,
      );
    }
    if (remote) {
      io.stderr.write(
        `warning: listening on ${values.host}: chats (and API keys) reach this proxy from the network in plain text, ` +
          'unencrypted until here; use it only on a network you trust\n',
      );
    }
    const proxy = await startEncryptingProxy({
      env: io.env,
      ...(size !== undefined ? { certificateCacheSize: Number(size) } : {}),
      upstream,
      host: values.host,
      port,
      encryptAll: values['encrypt-all'],
      maxRequestBytes: parseSize(values['max-body']),
      aicc: values.aicc ?? io.env.VOLC_ARK_ENCRYPTION === 'AICC',
      cacheDir: cacheDirOf(values),
      ...(await trustOf(values)),
      ...accessKeysOf(values, io),
      onWarning: (message) => io.stderr.write(`warning: ${message}\n`),
      onRequest: (entry) => io.stderr.write(logLine(entry)),
    });
    io.stdout.write(`listening on ${proxy.url}\n`);
    io.stderr.write(`forwarding to ${upstream}${values['encrypt-all'] ? ', encrypting every chat completion' : ''}; Ctrl-C to stop\n`);
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    await proxy.close();
    return 0;
  },
};
