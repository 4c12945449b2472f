/**
 * When the undici interceptor (index.ts, exchange.ts) lets an encrypted request go out again, and when not
 * (docs/security.md, "Retries and redirects"): a session goes out once; a layer above the
 * encryption that sends a request again (undici's retry or redirect interceptor composed after
 * it) gets a fresh session, but no resumption of a cut answer and no other origin unless that
 * origin cannot choose the certificate.
 */
import type { Dispatcher } from 'undici';
import { ResendRefusedError } from '../../errors.js';
import { headerPairs } from './dispatch-options.js';

type Handler = Dispatcher.DispatchHandler;

/** The error for a layer below the encryption that starts the same encrypted request again. */
export function sentTwiceError(): ResendRefusedError {
  return new ResendRefusedError(
    'an interceptor composed below arkEncryption tried to send an encrypted request again ' +
      '(same session token and ciphertext); it was stopped before anything went out. Compose ' +
      'retry and redirect interceptors after arkEncryption (compose(arkEncryption(), retry)): ' +
      'each attempt then gets a fresh session',
  );
}

function originOf(opts: Dispatcher.DispatchOptions): string | undefined {
  try {
    return new URL(String(opts.origin)).origin;
  } catch {
    return undefined;
  }
}

/**
 * Requests that come down again from above. Those layers send again with the same handler
 * object (undici's retry and redirect handlers pass themselves), which is how one is known.
 */
export class ResendRule {
  /** The origin each caller handler was first sent to. */
  private readonly firstOrigins = new WeakMap<Handler, string>();

  /** `originChoosesCertificate`: no certificate, pins or anchors in the options (encryptor.ts). */
  constructor(private readonly originChoosesCertificate: boolean) {}

  /** Whether this dispatch sends a request again, and the refusal when it may not go. */
  check(opts: Dispatcher.DispatchOptions, handler: Handler): { again: boolean; refusal?: ResendRefusedError } {
    const first = this.firstOrigins.get(handler);
    const origin = originOf(opts);
    if (first === undefined) {
      if (origin !== undefined) this.firstOrigins.set(handler, origin);
      return { again: false };
    }
    if (headerPairs(opts.headers).some(([name]) => name.toLowerCase() === 'range')) {
      // undici's retry handler resumes an answer cut half-way by asking for the rest of it.
      // A new session makes a new answer, under another key: there is no rest to ask for.
      return {
        again: true,
        refusal: new ResendRefusedError(
          'the answer to an encrypted request was cut half-way and a retry asked for the rest of ' +
            'it (a Range request); each attempt has its own session and answer, so the rest cannot ' +
            'be had and nothing was sent. Retry the whole request instead',
        ),
      };
    }
    if (origin !== first && this.originChoosesCertificate) {
      return {
        again: true,
        refusal: new ResendRefusedError(
          `an encrypted request to ${first} was sent on to another origin (${origin ?? 'unknown'}), ` +
            'most likely by a redirect; that origin would choose the certificate the request is ' +
            'encrypted to, so nothing was sent there. Set pinnedKeys or trustAnchors (or give the ' +
            'certificate) to allow other origins whose certificate passes them',
        ),
      };
    }
    return { again: true };
  }
}
