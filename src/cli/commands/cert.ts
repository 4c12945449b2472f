/** `ark-e2ee cert MODEL`: get a model's certificate as a request would, and show it and its source. */
import { X509Certificate } from 'node:crypto';
import { parseArgs } from 'node:util';
import { certificateHttpOverFetch } from '../../certificates/service.js';
import type { CertificateFrom, CertificateSource } from '../../certificates/source.js';
import { CertificateUnavailableError } from '../../errors.js';
import type { ModelCertificate } from '../../protocol/certificate.js';
import { CERTIFICATE_RELOAD_MS } from '../../protocol/constants.js';
import { chatBaseUrl, createCertificateSource } from '../../transport/encryptor.js';
import { UsageError, type Command } from '../command.js';
import { keyFingerprint } from '../key-fingerprint.js';
import { apiKeyOf, baseUrlOf, CACHE_HELP, CACHE_OPTIONS, cacheDirOf, TRUST_HELP, TRUST_OPTIONS, trustOf } from '../options.js';

const HELP = `Usage: ark-e2ee cert MODEL [--base-url URL] [--aicc] [--cache-dir DIR | --no-cache] [--cached]
                     [--trust-anchor FILE]… [--pin PIN]… [--json]

Gets the encryption certificate of MODEL (an endpoint id or model id) exactly as an encrypted
request would (E2E_CERTIFICATE_PATH, else the cache file when it is there, safe and fresh, else
the certificate service with ARK_API_KEY; the same cache layout, loopback rule and trust
checks), and shows where it came from, its subject, the SHA-256 of its public key (hex, and
base64 as --pin and pinnedKeys take it), validity, AICC ring and key ids, and its cache file.

  --base-url URL   Ark base URL (default $ARK_BASE_URL or https://ark.cn-beijing.volces.com/api/v3)
  --aicc           AICC mode (default: VOLC_ARK_ENCRYPTION=AICC)
  --cached         show the cache file as it is (even if stale), without asking the service
${CACHE_HELP}
${TRUST_HELP}
  --json           print the result as one JSON object

Exit codes: 0 shown; 1 the certificate could not be had (the service failed, or with --cached
no usable file) or failed a check; 2 bad usage.`;

/** `from` in words, and as the JSON `source` field. */
function describe(from: CertificateFrom): { source: string; detail: string } {
  switch (from.kind) {
    case 'option':
      // The only option `cert` has is the one the environment gives (E2E_CERTIFICATE_PATH).
      return { source: from.label.includes('E2E_CERTIFICATE_PATH') ? 'env' : 'option', detail: from.label };
    case 'cache':
      return { source: 'cache', detail: `the cache file ${from.file}` };
    case 'service':
      return { source: 'service', detail: `the certificate service (${from.url})` };
    case 'memory':
      return { source: 'memory', detail: 'memory' };
  }
}

/** The cache file as it is, for `--cached` (stale or not): its text, file and age. */
async function readCacheOnly(source: CertificateSource, model: string, baseUrl: string): Promise<{ pem: string; file: string; ageMs: number }> {
  const file = source.cacheFileFor(baseUrl, model);
  if (file === undefined) {
    throw new CertificateUnavailableError(
      `no cache file serves model "${model}" at ${baseUrl}: caching is off, the model name cannot be a ` +
        'file name, or the server is on this machine and the default folder is in use (memory only)',
    );
  }
  const cached = await source.readCache(baseUrl, model);
  if (cached === undefined) throw new CertificateUnavailableError(`the cache file ${file} is absent, or was refused (see the warning)`);
  return { pem: cached.pem, file, ageMs: Date.now() - cached.modifiedMs };
}

export const certCommand: Command = {
  name: 'cert',
  summary: "get a model's certificate as a request would, and show it and where it came from",
  help: HELP,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        'base-url': { type: 'string' },
        aicc: { type: 'boolean' },
        cached: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        ...CACHE_OPTIONS,
        ...TRUST_OPTIONS,
      },
    });
    const [model] = positionals;
    if (model === undefined || positionals.length > 1) throw new UsageError('name exactly one MODEL');
    if (values.cached && values['no-cache']) throw new UsageError('--cached and --no-cache contradict each other');
    const aicc = values.aicc ?? io.env.VOLC_ARK_ENCRYPTION === 'AICC';
    // Spelled as a request's base URL is (host case, default port…), so that it names the same cache file.
    const given = baseUrlOf(values['base-url'], io);
    const baseUrl = URL.canParse(`${given}/chat/completions`) ? chatBaseUrl(new URL(`${given}/chat/completions`)) : undefined;
    if (baseUrl === undefined) throw new UsageError(`--base-url must be an http: or https: URL, not "${given}"`);
    const trust = await trustOf(values);
    const options = { cacheDir: cacheDirOf(values), aicc, ...trust, env: io.env };
    // The same construction as chat, proxy and the library: option/env, cache, loopback, trust.
    const source = createCertificateSource(options, certificateHttpOverFetch(fetch), (m) => io.stderr.write(`warning: ${m}\n`));
    let certificate: ModelCertificate;
    let from: CertificateFrom;
    let ageMs: number | undefined;
    if (values.cached) {
      const cached = await readCacheOnly(source, model, baseUrl);
      // Parsed and checked (mode, validity, trust) as any certificate is, by the same construction.
      const checker = createCertificateSource({ ...options, certificate: cached.pem, cacheDir: false }, certificateHttpOverFetch(fetch));
      try {
        certificate = await checker.get({ model, aicc, baseUrl, authorization: undefined });
      } catch (error) {
        if (error instanceof Error) error.message = `the cache file ${cached.file}: ${error.message}`;
        throw error;
      }
      from = { kind: 'cache', file: cached.file };
      ageMs = cached.ageMs;
      if (ageMs >= CERTIFICATE_RELOAD_MS) io.stderr.write(`warning: ${cached.file} is older than 14 days; a request would fetch a new one\n`);
    } else {
      ({ certificate, from } = await source.lookup({
        model,
        aicc,
        baseUrl,
        authorization: io.env.ARK_API_KEY ? `Bearer ${apiKeyOf(io)}` : undefined,
      }));
    }
    const x509 = new X509Certificate(certificate.pem);
    const fingerprint = await keyFingerprint(certificate.pem);
    const described = describe(from);
    const cacheFile = from.kind === 'cache' ? from.file : (source.cacheFileFor(baseUrl, model) ?? null);
    const result = {
      model,
      baseUrl,
      subject: x509.subject.replace(/\n/g, ', '),
      fingerprintSha256: fingerprint.hex,
      pinSha256: fingerprint.base64,
      notBefore: certificate.notBefore.toISOString(),
      notAfter: certificate.notAfter.toISOString(),
      ringId: certificate.ringId,
      keyId: certificate.keyId,
      aicc: certificate.isAICC,
      source: described.source,
      from: described.detail,
      cacheFile,
      ...(ageMs !== undefined ? { cacheAgeDays: Math.floor(ageMs / 86_400_000), fresh: ageMs < CERTIFICATE_RELOAD_MS } : {}),
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
        ['from', result.from],
        ['cache file', result.cacheFile ?? '(not cached: memory only)'],
      ];
      if (ageMs !== undefined) rows.push(['cache age', `${result.cacheAgeDays} days (${result.fresh ? 'fresh' : 'stale'})`]);
      for (const [name, value] of rows) io.stdout.write(`${name.padEnd(13)} ${value}\n`);
    }
    return 0;
  },
};
