/**
 * A model's certificate from the OpenAPI action `GetEndpointCertificate` (`Id` = the endpoint,
 * `Type: "AICCv0.1"` in AICC mode), as the official Python SDK gets it with access keys. The
 * answer carries the certificate's CA chain (`PCASubCACertificate`, `PCARootCACertificate`): the
 * model certificate must chain to them (signatures, validity, CA constraints: trust.ts), or it is
 * refused. The PEM handed on is the model certificate followed by the sub-CA and the root, so
 * that a cached copy is checked the same way when it is read again, and a user's `trustAnchors`
 * holding that root verify it too.
 */
import { CertificateTrust, splitPemCertificates } from '../certificates/trust.js';
import { InvalidCertificateError } from '../errors.js';
import { AICC_VERSION } from '../protocol/constants.js';
import type { OpenApiClient } from './openapi.js';

export const GET_ENDPOINT_CERTIFICATE = 'GetEndpointCertificate';

export interface EndpointCertificateRequest {
  model: string;
  aicc: boolean;
  signal: AbortSignal;
  now: number;
}

function onePem(client: OpenApiClient, value: unknown, field: string): string {
  const blocks = typeof value === 'string' ? splitPemCertificates(value) : [];
  if (blocks.length !== 1) {
    throw client.malformed(GET_ENDPOINT_CERTIFICATE, `has no single PEM certificate in ${field} (${blocks.length} found)`);
  }
  return blocks[0]!;
}

/**
 * Checks that the first certificate of `bundle` chains, through the middle ones, to the last one
 * (the root the control plane gave): a bundle this module made, from the answer or the cache.
 */
export async function verifyControlPlaneChain(bundle: string, nowMs: number, subject: string): Promise<void> {
  const blocks = splitPemCertificates(bundle);
  if (blocks.length < 3) {
    throw new InvalidCertificateError(`${subject} does not come with the CA chain of GetEndpointCertificate; nothing was sent`);
  }
  if (new Set(blocks.map((block) => block.replace(/\s+/g, ''))).size !== blocks.length) {
    throw new InvalidCertificateError(`${subject} comes with a CA chain that repeats a certificate; nothing was sent`);
  }
  let chain: CertificateTrust;
  try {
    chain = CertificateTrust.from({ trustAnchors: [blocks[blocks.length - 1]!], intermediates: blocks.slice(1, -1) })!;
  } catch (error) {
    throw new InvalidCertificateError(`the CA chain of ${subject} cannot be read (${(error as Error).message}); nothing was sent`, { cause: error });
  }
  await chain.verify(blocks[0]!, nowMs, `${subject} (against the CA chain GetEndpointCertificate gave with it)`);
}

/**
 * The model certificate, its sub-CA and the root, as one PEM, verified to chain to that root
 * (the first block is the model's: the form CertificateSource and the disk cache keep).
 */
export async function fetchEndpointCertificate(client: OpenApiClient, request: EndpointCertificateRequest): Promise<string> {
  const body = request.aicc ? { Id: request.model, Type: AICC_VERSION } : { Id: request.model };
  const result = await client.call(GET_ENDPOINT_CERTIFICATE, body, request.signal);
  const instance = onePem(client, result.PCAInstanceCertificate, 'PCAInstanceCertificate');
  const subCa = onePem(client, result.PCASubCACertificate, 'PCASubCACertificate');
  const root = onePem(client, result.PCARootCACertificate, 'PCARootCACertificate');
  const bundle = `${instance.trim()}\n${subCa.trim()}\n${root.trim()}\n`;
  await verifyControlPlaneChain(bundle, request.now, `the certificate GetEndpointCertificate gave for model "${request.model}"`);
  return bundle;
}
