/**
 * `signOpenApiRequest` as the main entries export it: a function of this file that calls
 * sign.ts. Re-exported directly, sign.ts (with @noble/hashes' HMAC and SHA-256) would be in what
 * a browser bundle loads first even for an app that never signs: esbuild keeps a file that an
 * entry re-exports with the entry, although the access-key path loads it on demand. A wrapper an
 * app does not use is dropped (package.json `sideEffects: false`), and its import with it.
 */
import { signOpenApiRequest as sign, type OpenApiRequestToSign, type SignedOpenApiRequest, type SigningContext } from './sign.js';

export function signOpenApiRequest(request: OpenApiRequestToSign, context: SigningContext): SignedOpenApiRequest {
  return sign(request, context);
}
