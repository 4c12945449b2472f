/** `ark-e2ee serve`: the mock Ark server on its own, for trying clients against it. */
import { parseArgs } from 'node:util';
import { startMockArkServer } from '../../testing/index.js';
import type { Command } from '../command.js';
import { keyFingerprint } from '../key-fingerprint.js';
import { portOf } from '../options.js';
import { describeMockRequest } from '../serve-log.js';

const HELP = `Usage: ark-e2ee serve [--port N] [--host H] [--aicc] [--api-key KEY] [--log] [--json]

Starts the local mock Ark server: the service side of the encryption protocol, with its own
P-256 certificate, on loopback. Prints its base URL and the certificate's key pin (the value
--pin and pinnedKeys take), then serves until SIGINT or SIGTERM. Models choose scenarios:
mock-model, mock-pieces, mock-tools, mock-reasoning, mock-content-filter, mock-429, mock-500,
mock-long:<N>.

  --port N       port to listen on (default 0: a free one)
  --host H       address to bind (default 127.0.0.1)
  --aicc         AICC mode: the certificate names a key ring and a key
  --api-key KEY  require "Authorization: Bearer KEY" (default: any key)
  --log          print each request on stderr: what crossed the wire (which fields were
                 ciphertext, the session token) and what the mock decrypted
  --json         print {"url", "pin", "fingerprint"} as one JSON line (pin: base64, as --pin
                 takes it; fingerprint: the same SHA-256 as colon-separated hex; and
                 "openApiUrl", see below)

With VOLC_ACCESSKEY and VOLC_SECRETKEY set, it also serves the Volcengine OpenAPI actions of
the access-key path (GetApiKey, GetEndpointCertificate) at its root, checking every signature
against that pair, and prints that OpenAPI URL (the --openapi-url of chat and proxy).`;

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the local mock Ark server',
  help: HELP,
  async run(args, io) {
    const { values } = parseArgs({
      args,
      options: {
        port: { type: 'string', default: '0' },
        host: { type: 'string', default: '127.0.0.1' },
        aicc: { type: 'boolean', default: false },
        'api-key': { type: 'string' },
        log: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
    });
    const server = await startMockArkServer({
      port: portOf(values.port),
      host: values.host,
      aicc: values.aicc,
      apiKey: values['api-key'],
      ...(io.env.VOLC_ACCESSKEY && io.env.VOLC_SECRETKEY
        ? { openApi: { accessKey: io.env.VOLC_ACCESSKEY, secretKey: io.env.VOLC_SECRETKEY } }
        : {}),
      ...(values.log ? { onRequest: (record) => io.stderr.write(describeMockRequest(record)) } : {}),
    });
    const fingerprint = await keyFingerprint(server.certificatePem);
    const openApiUrl = server.openApiUrl;
    if (values.json) {
      io.stdout.write(`${JSON.stringify({ url: server.url, pin: fingerprint.base64, fingerprint: fingerprint.hex, ...(openApiUrl ? { openApiUrl } : {}) })}\n`);
    } else {
      io.stdout.write(`base URL ${server.url}\ncertificate key pin ${fingerprint.base64} (for --pin and pinnedKeys)\n${openApiUrl ? `OpenAPI URL ${openApiUrl}\n` : ''}`);
    }
    io.stderr.write('mock Ark server running; Ctrl-C to stop\n');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await server.close();
    return 0;
  },
};
