/**
 * The checks of `ark-e2ee doctor`, one function each, in the order a request meets them: the base
 * URL answers, the certificate service gives a usable certificate, the pins and trust anchors
 * given accept it, the disk cache serves it, and one encrypted chat goes out as ciphertext and
 * comes back decrypted. Each says what it found and, when it failed, what to do.
 */
import { CertificateTrust } from '../certificates/trust.js';
import { certificateKeyPin } from '../certificates/trust.js';
import { certificateHttpOverFetch, fetchCertificatePem } from '../certificates/service.js';
import { parseModelCertificate } from '../certificates/source.js';
import { ArkE2EEError, CertificateUnavailableError } from '../errors.js';
import type { ModelCertificate } from '../protocol/certificate.js';
import { createEncryptedFetch } from '../transport/create-encrypted-fetch.js';
import { isLoopback } from '../certificates/origin.js';
import { networkDetail, withNetworkDetail } from '../transport/network-detail.js';

export interface CheckResult {
  outcome: 'pass' | 'fail' | 'skip';
  title: string;
  /** What was found, one line each. */
  details: string[];
  /** What to do about a failure. */
  fix?: string;
}

export interface DoctorSettings {
  baseUrl: string;
  model: string;
  apiKey: string;
  aicc: boolean;
  /** `undefined`: the library's default folder; `false`: no disk cache. */
  cacheDir: string | false | undefined;
  trustAnchors?: string[];
  pinnedKeys?: string[];
  timeoutMs: number;
  /** The environment the library reads its defaults from (the CLI's `io.env`). */
  env?: Readonly<Record<string, string | undefined>>;
}

const PROBE_QUESTION = 'ark-e2ee doctor probe: answer with one short word.';

const pass = (title: string, ...details: string[]): CheckResult => ({ outcome: 'pass', title, details });
const fail = (title: string, fix: string, ...details: string[]): CheckResult => ({ outcome: 'fail', title, details, fix });
const skip = (title: string, ...details: string[]): CheckResult => ({ outcome: 'skip', title, details });

function failure(error: unknown): string {
  const detail = networkDetail(error);
  const message = error instanceof Error ? error.message : String(error);
  const code = error instanceof ArkE2EEError ? `${error.code}: ` : '';
  return `${code}${message}${detail && !message.includes(detail) ? ` (${detail})` : ''}`;
}

export async function checkReachable(settings: DoctorSettings): Promise<CheckResult> {
  const title = `base URL reachable: ${settings.baseUrl}`;
  try {
    const response = await fetch(settings.baseUrl, { signal: AbortSignal.timeout(settings.timeoutMs) });
    await response.body?.cancel();
    return pass(title, `it answered HTTP ${response.status} (any answer will do: the host is there)`);
  } catch (error) {
    return fail(title, 'check --base-url (or ARK_BASE_URL), the network, and any proxy between here and the host', failure(error));
  }
}

export async function checkCertificate(settings: DoctorSettings): Promise<{ result: CheckResult; certificate?: ModelCertificate }> {
  const title = `certificate of "${settings.model}" from the certificate service`;
  let pem: string;
  try {
    pem = await fetchCertificatePem(withNetworkDetail(certificateHttpOverFetch(fetch)), {
      baseUrl: settings.baseUrl,
      model: settings.model,
      aicc: settings.aicc,
      authorization: `Bearer ${settings.apiKey}`,
      signal: AbortSignal.timeout(settings.timeoutMs),
    });
  } catch (error) {
    let fix = 'check the base URL and the network';
    if (error instanceof CertificateUnavailableError && (error.status === 401 || error.status === 403)) fix = 'check ARK_API_KEY: the service did not accept it';
    else if (error instanceof CertificateUnavailableError && error.status === 404) fix = 'check that the base URL ends in /api/v3 and that the model (endpoint) exists and has encryption enabled';
    else if (error instanceof CertificateUnavailableError && error.status !== undefined) fix = 'check the model name and that it has encryption enabled';
    return { result: fail(title, fix, failure(error)) };
  }
  let certificate: ModelCertificate;
  try {
    certificate = parseModelCertificate(pem);
  } catch (error) {
    return { result: fail(title, 'the service gave a certificate this library cannot use; report it with the details above', failure(error)) };
  }
  const now = Date.now();
  const days = Math.floor((certificate.notAfter.getTime() - now) / 86_400_000);
  const details = [
    `P-256 key, valid ${certificate.notBefore.toISOString().slice(0, 10)} to ${certificate.notAfter.toISOString().slice(0, 10)}`,
    `key pin ${await certificateKeyPin(pem)} (the value --pin and pinnedKeys take)`,
  ];
  if (now < certificate.notBefore.getTime() || now > certificate.notAfter.getTime()) {
    return { result: fail(title, "check this machine's clock; if it is right, the service's certificate is out of date", ...details, 'not valid now') };
  }
  if (settings.aicc !== certificate.isAICC) {
    const fix = settings.aicc ? 'the model is not in AICC mode: leave out --aicc / VOLC_ARK_ENCRYPTION=AICC' : 'the model uses AICC: add --aicc';
    return { result: fail(title, fix, ...details, `AICC ids: ring "${certificate.ringId}", key "${certificate.keyId}"`) };
  }
  return { result: pass(title, ...details, `${days} days left`), certificate };
}

export async function checkTrust(settings: DoctorSettings, certificate: ModelCertificate): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const pin = await certificateKeyPin(certificate.pem);
  if (settings.pinnedKeys === undefined) {
    results.push(skip('key pin: none given', `to refuse any other key, pass --pin ${pin}`));
  } else if (settings.pinnedKeys.some((given) => given.replace(/^sha256\//, '') === pin)) {
    results.push(pass('key pin: the certificate has one of the pins given'));
  } else {
    results.push(fail('key pin: the certificate has none of the pins given', `if this key is the model's, pass --pin ${pin}; otherwise do not send: someone may be handing out their own certificate`, `its pin is ${pin}`));
  }
  if (settings.trustAnchors === undefined) {
    results.push(skip('trust anchors: none given', 'the certificate is taken from the service as it comes (see docs/security.md)'));
    return results;
  }
  try {
    const verdict = await CertificateTrust.from({ trustAnchors: settings.trustAnchors })!.verify(certificate.pem, Date.now(), 'the model certificate');
    results.push(pass('trust anchors: the certificate chains to one given', verdict.chain.join(' → ')));
  } catch (error) {
    results.push(fail('trust anchors: the certificate does not chain to the anchors given', 'check the --trust-anchor files (and that the service sends its intermediates)', failure(error)));
  }
  return results;
}

/** The library with these settings, and how many certificate requests went out under it. */
function encryptedFetchFor(settings: DoctorSettings, inner: typeof fetch) {
  let certificateRequests = 0;
  const counting: typeof fetch = (input, init) => {
    if (String(input instanceof Request ? input.url : input).endsWith('/e2e/get/certificate')) certificateRequests += 1;
    return inner(input, init);
  };
  const encryptedFetch = createEncryptedFetch({
    fetch: counting,
    cacheDir: settings.cacheDir,
    aicc: settings.aicc,
    env: settings.env,
    trustAnchors: settings.trustAnchors,
    pinnedKeys: settings.pinnedKeys,
    certificateTimeout: settings.timeoutMs,
    errors: 'throw',
    onWarning: () => undefined,
  });
  return { encryptedFetch, certificateRequests: () => certificateRequests };
}

function chat(encryptedFetch: typeof fetch, settings: DoctorSettings): Promise<Response> {
  return encryptedFetch(`${settings.baseUrl}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${settings.apiKey}`, 'content-type': 'application/json', 'x-is-encrypted': 'true' },
    body: JSON.stringify({ model: settings.model, messages: [{ role: 'user', content: PROBE_QUESTION }], max_tokens: 64 }),
    signal: AbortSignal.timeout(settings.timeoutMs * 2),
  });
}

export async function checkProbe(settings: DoctorSettings): Promise<CheckResult> {
  const title = 'one encrypted chat: sent as ciphertext, answer decrypted';
  let sentBody = '';
  let wireAnswer = '';
  const recording: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    if (!String(input).endsWith('/chat/completions')) return response;
    sentBody = typeof init?.body === 'string' ? init.body : '';
    wireAnswer = await response.text();
    return new Response(wireAnswer, { status: response.status, headers: response.headers });
  };
  const { encryptedFetch } = encryptedFetchFor(settings, recording);
  try {
    const response = await chat(encryptedFetch, settings);
    if (!response.ok) {
      return fail(title, 'the service refused the chat: see its message', `HTTP ${response.status}: ${(await response.text()).slice(0, 300)}`);
    }
    const completion = (await response.json()) as { choices?: { message?: { content?: unknown } }[] };
    const content = completion.choices?.[0]?.message?.content;
    if (sentBody.includes(PROBE_QUESTION)) return fail(title, 'report this: the question left in plain text', 'the question crossed the wire in plain text');
    const onWire = (JSON.parse(wireAnswer) as typeof completion).choices?.[0]?.message?.content;
    const answer = typeof content === 'string' ? content : String(content);
    const details = [`the question crossed the wire encrypted (${sentBody.length} bytes)`];
    details.push(typeof onWire === 'string' && onWire !== '' ? `the answer came as ciphertext (${onWire.length} characters) and decrypted to ${JSON.stringify(answer.slice(0, 80))}` : 'the answer carried no content to decrypt');
    return pass(title, ...details);
  } catch (error) {
    return fail(title, 'see the error: nothing was sent when encryption failed before sending', failure(error));
  }
}

export async function checkCache(settings: DoctorSettings): Promise<CheckResult> {
  const title = 'certificate cache';
  if (settings.cacheDir === false) return skip(`${title}: off (--no-cache)`);
  if (settings.cacheDir === undefined && isLoopback(settings.baseUrl)) {
    return skip(`${title}: not used for a server on this machine`, 'give --cache-dir DIR to cache its certificate');
  }
  // A fresh instance (nothing in memory) reads the disk cache the probe filled; its chat request
  // is answered here and never sent.
  const notSent: typeof fetch = async (input, init) =>
    String(input).endsWith('/chat/completions') ? new Response('{}', { status: 599 }) : fetch(input, init);
  const { encryptedFetch, certificateRequests } = encryptedFetchFor(settings, notSent);
  try {
    await chat(encryptedFetch, settings);
  } catch (error) {
    return fail(title, 'see the error', failure(error));
  }
  const where = settings.cacheDir ?? '~/.ark/certificates';
  if (certificateRequests() === 0) return pass(`${title}: used`, `a new process would read the certificate from ${where} without asking the service`);
  return fail(`${title}: not used`, `check that ${where} is a folder only you can write to (warnings name the problem)`, 'the certificate was fetched again instead of read from the cache');
}
