/**
 * arkEncryption: an undici interceptor that encrypts the chat completions carrying
 * `x-is-encrypted: true` and decrypts their answers, as createEncryptedFetch does for fetch:
 *
 *   const dispatcher = new Agent().compose(arkEncryption());
 *   await request(url, { dispatcher, method: 'POST', headers: { 'x-is-encrypted': 'true' }, body });
 *   await fetch(url, { dispatcher, … });   // undici's fetch
 *
 * Every other request goes down the chain untouched. The certificate POST goes down the same
 * chain (the dispatch this interceptor was composed over), never through globalThis.fetch.
 * Errors reach the caller through the handler's onResponseError as the library's typed errors;
 * when encryption fails, nothing is dispatched.
 *
 * The interceptor expects handlers of undici's new style (onRequestStart, onResponseStart, …),
 * which is what compose hands it: undici wraps an old-style handler (onConnect, onHeaders, …)
 * before it reaches an interceptor. Calling the interceptor's dispatch by hand with an old-style
 * handler is not supported.
 *
 * The files: exchange.ts (one encrypted request and its answer), dispatch-options.ts (reading
 * undici's options and bodies), controller.ts (the caller's controller), certificate-http.ts
 * (the certificate POST down the chain), resend.ts (retries and redirects). A session goes out once: what retries and
 * redirects on either side of this interceptor may do is in resend.ts.
 */
import type { Dispatcher } from 'undici';
import { encryptionSwitch } from '../encryption-switch.js';
import { ArkEncryptor, maxCertificateBytesOf, type ArkEncryptionOptions } from '../encryptor.js';
import { certificateHttpOverDispatch } from './certificate-http.js';
import { EncryptedExchange } from './exchange.js';
import { ResendRule } from './resend.js';
import { loadNoble } from '../../crypto/select.js';

/** Options of `arkEncryption`: the same as every transport's. */
export type ArkEncryptionInterceptorOptions = ArkEncryptionOptions;

type Handler = Dispatcher.DispatchHandler;

/**
 * An undici interceptor: `new Agent().compose(arkEncryption(options))`. Requests whose headers
 * carry `x-is-encrypted: true` are encrypted and their answers decrypted; all others pass as
 * they are. Each composition has its own certificate memory (the disk cache is shared).
 */
export function arkEncryption(options: ArkEncryptionInterceptorOptions = {}): Dispatcher.DispatcherComposeInterceptor {
  const maxBytes = maxCertificateBytesOf(options);
  return (dispatch) => {
    // Node's entry has noble statically (its synchronous API), so that is how its sessions get it.
    const encryptor = new ArkEncryptor(options, certificateHttpOverDispatch(dispatch, { maxBytes }), loadNoble);
    const resends = new ResendRule(encryptor.originChoosesCertificate);
    // Two parameters exactly: undici's compose checks the arity of what an interceptor returns.
    return function arkEncryptionInterceptor(opts: Dispatcher.DispatchOptions, handler: Handler): boolean {
      let encrypt: boolean;
      try {
        encrypt = encryptionSwitch(opts.headers);
      } catch (error) {
        // A switch we cannot read: refused through the handler, nothing dispatched.
        new EncryptedExchange(encryptor, dispatch, opts, handler).refuse(error);
        return true;
      }
      if (!encrypt) return dispatch(opts, handler);
      const { again, refusal } = resends.check(opts, handler);
      const exchange = new EncryptedExchange(encryptor, dispatch, opts, handler, again);
      if (refusal !== undefined) {
        exchange.refuse(refusal);
        return true;
      }
      exchange.start();
      return true;
    };
  };
}
