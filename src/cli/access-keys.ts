/**
 * Access keys for the commands that talk to Ark (chat, proxy): the pair from VOLC_ACCESSKEY and
 * VOLC_SECRETKEY (never from flags, which other users can see in the process list), the region
 * and the OpenAPI from flags.
 */
import type { AccessKeyOptions } from '../credentials/access-keys.js';
import type { CliIO } from './command.js';

export const ACCESS_KEY_OPTIONS = {
  region: { type: 'string' },
  'openapi-url': { type: 'string' },
  'project-name': { type: 'string' },
} as const;

export const ACCESS_KEY_HELP = `  --region R       region of the OpenAPI calls made with access keys (default cn-beijing)
  --openapi-url URL  the Volcengine OpenAPI (default https://open.volcengineapi.com)
  --project-name P   project of the short-lived key of a model id (preset endpoint)`;

export const ACCESS_KEY_NOTE = `With VOLC_ACCESSKEY and VOLC_SECRETKEY set (an access key pair), a request without an API key
gets a short-lived key for its endpoint from the Volcengine OpenAPI (GetApiKey), and the model's
certificate comes from the OpenAPI too (GetEndpointCertificate), with its CA chain checked.`;

/** The access-key options of `values` and `io.env`; `{}` when the pair is not (wholly) set. */
export function accessKeysOf(
  values: { region?: string; 'openapi-url'?: string; 'project-name'?: string },
  io: CliIO,
): AccessKeyOptions {
  const accessKey = io.env.VOLC_ACCESSKEY;
  const secretKey = io.env.VOLC_SECRETKEY;
  if (!accessKey || !secretKey) return {};
  return {
    accessKey,
    secretKey,
    ...(values.region ? { region: values.region } : {}),
    ...(values['openapi-url'] ? { openApiUrl: values['openapi-url'] } : {}),
    ...(values['project-name'] ? { projectName: values['project-name'] } : {}),
  };
}
