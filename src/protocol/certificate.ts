/**
 * parseCertificate: the model's PEM X.509 certificate → its P-256 key and AICC ids (protocol §1).
 */
import { InvalidCertificateError } from '../errors.js';

export interface ModelCertificate {
  /** Subject public key as an uncompressed P-256 point `04 || X || Y` (65 bytes). */
  readonly publicKey: Uint8Array;
  /** AICC key ring id from the first SAN DNS name `ring.<RingID>`; `""` when absent. */
  readonly ringId: string;
  /** AICC key id from the second SAN DNS name `key.<KeyID>`; `""` when absent. */
  readonly keyId: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Whether the certificate carries both AICC ids. */
  readonly isAICC: boolean;
  /** The PEM text it was parsed from. */
  readonly pem: string;
}

export function parseCertificate(pem: string): ModelCertificate {
  throw new InvalidCertificateError(`not implemented yet (${pem.length} characters)`);
}
