/**
 * A model's certificate from the OpenAPI action `GetEndpointCertificate` (`Id` = the endpoint,
 * `Type: "AICCv0.1"` in AICC mode), as the official Python SDK gets it with access keys. The
 * answer carries the certificate's CA chain (`PCASubCACertificate`, `PCARootCACertificate`): the
 * model certificate must chain to them (signatures, validity, CA constraints: trust.ts), or it is
 * refused. The PEM handed on is the model certificate followed by the sub-CA, so that a user's
 * `trustAnchors` holding the same root verify it again, from the cache too.
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

/** The model certificate and its sub-CA (PEM), verified to chain to the root the answer gave. */
export async function fetchEndpointCertificate(client: OpenApiClient, request: EndpointCertificateRequest): Promise<string> {
  const body = request.aicc ? { Id: request.model, Type: AICC_VERSION } : { Id: request.model };
  const result = await client.call(GET_ENDPOINT_CERTIFICATE, body, request.signal);
  const instance = onePem(client, result.PCAInstanceCertificate, 'PCAInstanceCertificate');
  const subCa = onePem(client, result.PCASubCACertificate, 'PCASubCACertificate');
  const root = onePem(client, result.PCARootCACertificate, 'PCARootCACertificate');
  let chain: CertificateTrust;
  try {
    chain = CertificateTrust.from({ trustAnchors: [root], intermediates: [subCa] })!;
  } catch (error) {
    throw new InvalidCertificateError(
      `the CA chain GetEndpointCertificate gave for model "${request.model}" cannot be read (${(error as Error).message}); nothing was sent`,
      { cause: error },
    );
  }
  await chain.verify(instance, request.now, `the certificate GetEndpointCertificate gave for model "${request.model}" (against its own CA chain)`);
  return `${instance.trim()}\n${subCa.trim()}\n`;
}
