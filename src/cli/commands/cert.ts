/** `ark-e2ee cert MODEL`: fetch (or read from the cache) and show a model's certificate. */
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createDiskCache, defaultCacheDir, isSafeModelName } from '../../certificates/disk-cache.js';
import { certificateHttpOverFetch, type CertificateHttp } from '../../certificates/service.js';
import { CertificateSource } from '../../certificates/source.js';
import { UsageError, type Command } from '../command.js';
import { apiKeyOf, baseUrlOf, CACHE_HELP, CACHE_OPTIONS } from '../options.js';
import { keyFingerprint } from './serve.js';

const HELP = `Usage: ark-e2ee cert MODEL [--base-url URL] [--aicc] [--cache-dir DIR | --no-cache] [--json]

Gets the encryption certificate of MODEL (an endpoint id or model id) the way an encrypted
request would: from the cache when it is there and fresh, else from the certificate service
(with ARK_API_KEY). Shows its subject, the SHA-256 fingerprint of its public key (hex, and
base64 as used for key pinning), validity, AICC ring and key ids, and the cache file.

  --base-url URL   Ark base URL (default $ARK_BASE_URL or https://ark.cn-beijing.volces.com/api/v3)
  --aicc           AICC mode (default: VOLC_ARK_ENCRYPTION=AICC)
${CACHE_HELP}
  --json           print the result as one JSON object`;

export const certCommand: Command = {
  name: 'cert',
  summary: "fetch or read from the cache a model's certificate, and show it",
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { 'base-url': { type: 'string' }, aicc: { type: 'boolean' }, json: { type: 'boolean', default: false }, ...CACHE_OPTIONS },
    });
    const [model] = positionals;
    if (model === undefined || positionals.length > 1) throw new UsageError('name exactly one MODEL');
    const aicc = values.aicc ?? io.env.VOLC_ARK_ENCRYPTION === 'AICC';
    const cacheDir = values['no-cache'] ? undefined : (values['cache-dir'] ?? defaultCacheDir());
    let fetched = false;
    const overFetch = certificateHttpOverFetch(fetch);
    const http: CertificateHttp = (request) => {
      fetched = true;
      return overFetch(request);
    };
    const source = new CertificateSource({
      store: cacheDir ? createDiskCache(cacheDir, (m) => io.stderr.write(`warning: ${m}\n`)) : undefined,
      http,
    });
    const certificate = await source.get({
      model,
      aicc,
      baseUrl: baseUrlOf(values['base-url'], io),
      authorization: io.env.ARK_API_KEY ? `Bearer ${apiKeyOf(io)}` : undefined,
    });
    const x509 = new X509Certificate(certificate.pem);
    const fingerprint = await keyFingerprint(certificate.pem);
    const result = {
      model,
      subject: x509.subject.replace(/\n/g, ', '),
      fingerprintSha256: fingerprint.hex,
      pinSha256: fingerprint.base64,
      notBefore: certificate.notBefore.toISOString(),
      notAfter: certificate.notAfter.toISOString(),
      ringId: certificate.ringId,
      keyId: certificate.keyId,
      aicc: certificate.isAICC,
      source: fetched ? 'service' : 'cache',
      cacheFile: cacheDir && isSafeModelName(model) ? join(cacheDir, `${model}.pem`) : null,
    };
    if (values.json) {
      io.stdout.write(`${JSON.stringify(result)}\n`);
    } else {
      const rows: [string, string][] = [
        ['model', model],
        ['subject', result.subject],
        ['key SHA-256', result.fingerprintSha256],
        ['pin (base64)', result.pinSha256],
        ['valid', `${result.notBefore} to ${result.notAfter}`],
        ['ring id', result.ringId || '(none)'],
        ['key id', result.keyId || '(none)'],
        ['from', result.source],
        ['cache file', result.cacheFile ?? '(not cached)'],
      ];
      for (const [name, value] of rows) io.stdout.write(`${name.padEnd(13)} ${value}\n`);
    }
    return 0;
  },
};
