/** `ark-e2ee doctor`: checks a deployment step by step and says what passed, failed, and what to do. */
import { parseArgs } from 'node:util';
import { UsageError, type Command } from '../command.js';
import {
  checkCache,
  checkCertificate,
  checkProbe,
  checkReachable,
  checkTrust,
  type CheckResult,
  type DoctorSettings,
} from '../doctor-checks.js';
import { apiKeyOf, baseUrlOf, CACHE_HELP, CACHE_OPTIONS, cacheDirOf, TRUST_HELP, TRUST_OPTIONS, trustOf } from '../options.js';

const HELP = `Usage: ark-e2ee doctor [--model M] [--base-url URL] [--aicc] [--trust-anchor FILE]… [--pin PIN]…
                       [--cache-dir DIR | --no-cache] [--timeout MS]

Checks that encrypted chats work with this API key, model and base URL, step by step, and says
what passed, what failed and what to do: the base URL answers; the certificate service gives the
model's certificate and it is valid; it has one of the --pin pins and chains to the
--trust-anchor roots, when given; the certificate cache is used; one short encrypted chat (a
few tokens) goes out as ciphertext and its answer decrypts. The API key comes from ARK_API_KEY.

  --model M        endpoint id or model id (default $ARK_MODEL)
  --base-url URL   Ark base URL (default $ARK_BASE_URL or https://ark.cn-beijing.volces.com/api/v3)
  --aicc           AICC mode (default: VOLC_ARK_ENCRYPTION=AICC)
${CACHE_HELP}
${TRUST_HELP}
  --timeout MS     give up a step after this long (default 15000)

Exit codes: 0 every check passed; 1 a check failed; 2 bad usage.`;

function printResult(result: CheckResult, out: NodeJS.WritableStream): void {
  const mark = { pass: '✓', fail: '✗', skip: '-' }[result.outcome];
  out.write(`${mark} ${result.title}\n`);
  for (const detail of result.details) out.write(`    ${detail}\n`);
  if (result.fix) out.write(`    what to do: ${result.fix}\n`);
}

export const doctorCommand: Command = {
  name: 'doctor',
  summary: 'check a deployment step by step: base URL, certificate, pins, cache, one encrypted chat',
  help: HELP,
  async run(args, io) {
    const { values } = parseArgs({
      args,
      options: {
        model: { type: 'string' },
        'base-url': { type: 'string' },
        aicc: { type: 'boolean' },
        timeout: { type: 'string', default: '15000' },
        ...CACHE_OPTIONS,
        ...TRUST_OPTIONS,
      },
    });
    const model = values.model ?? io.env.ARK_MODEL;
    if (!model) throw new UsageError('give --model or set ARK_MODEL');
    const apiKey = apiKeyOf(io);
    const timeoutMs = Number(values.timeout);
    if (!/^\d+$/.test(values.timeout) || timeoutMs <= 0) throw new UsageError(`--timeout must be a number of milliseconds, not "${values.timeout}"`);
    const baseUrl = baseUrlOf(values['base-url'], io);
    if (!URL.canParse(baseUrl) || !/^https?:$/.test(new URL(baseUrl).protocol)) {
      throw new UsageError(`--base-url must be an http: or https: URL, not "${baseUrl}"`);
    }
    const settings: DoctorSettings = {
      baseUrl,
      model,
      apiKey,
      aicc: values.aicc ?? io.env.VOLC_ARK_ENCRYPTION === 'AICC',
      cacheDir: cacheDirOf(values),
      ...(await trustOf(values)),
      timeoutMs,
      env: io.env,
    };
    io.stdout.write(`ark-e2ee doctor: model "${model}" at ${baseUrl}\n`);
    const results: CheckResult[] = [];
    const report = (result: CheckResult): void => {
      results.push(result);
      printResult(result, io.stdout);
    };
    const reachable = await checkReachable(settings);
    report(reachable);
    if (reachable.outcome === 'fail') {
      report({ outcome: 'skip', title: 'certificate, key pin, trust anchors, encrypted chat and cache: not checked without the host', details: [] });
      io.stdout.write('1 check failed\n');
      return 1;
    }
    const { result, certificate } = await checkCertificate(settings);
    report(result);
    if (certificate !== undefined) {
      for (const trust of await checkTrust(settings, certificate)) report(trust);
      report(await checkProbe(settings));
      report(await checkCache(settings));
    } else {
      report({ outcome: 'skip', title: 'key pin, trust anchors, encrypted chat and cache: not checked without a certificate', details: [] });
    }
    const failed = results.filter((r) => r.outcome === 'fail').length;
    io.stdout.write(failed === 0 ? 'every check passed\n' : `${failed} check${failed === 1 ? '' : 's'} failed\n`);
    return failed === 0 ? 0 : 1;
  },
};
