/**
 * The certificate POST of the undici interceptor, sent down the same chain the interceptor was
 * composed over (never through globalThis.fetch).
 */
import type { Dispatcher } from 'undici';
import {
  DEFAULT_MAX_CERTIFICATE_BYTES,
  certificateAnswerTooLarge,
  isRedirect,
  type CertificateHttp,
} from '../../certificates/service.js';
import { responseHeader } from './dispatch-options.js';

type Handler = Dispatcher.DispatchHandler;
type Controller = Dispatcher.DispatchController;

const encoder = new TextEncoder();

/**
 * A CertificateHttp that sends the certificate POST through `dispatch` (the rest of the chain).
 * Redirects are not followed: `maxRedirections: 0` tells a redirect interceptor further down to
 * pass the 3xx on (undici's own fetch does the same), and a 3xx ends the exchange at once. An
 * answer over `maxBytes` stops the read and aborts the connection.
 */
export function certificateHttpOverDispatch(dispatch: Dispatcher.Dispatch, options: { maxBytes?: number } = {}): CertificateHttp {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_CERTIFICATE_BYTES;
  return ({ url, headers, body, signal }) =>
    new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      const target = new URL(url);
      const chunks: Uint8Array[] = [];
      let size = 0;
      let status = 0;
      let controller: Controller | undefined;
      let settled = false;
      const onAbort = (): void => controller?.abort(signal.reason as Error);
      const settle = (error: unknown, answer?: { status: number; text: string; location?: string }): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        if (answer === undefined) reject(error);
        else resolve(answer);
      };
      /** Ends the exchange early: the answer (or error) is settled, the connection given up. */
      const stop = (current: Controller, error: unknown, answer?: { status: number; text: string; location?: string }): void => {
        settle(error, answer);
        current.abort(error instanceof Error ? error : new Error('the certificate answer was not read to its end'));
      };
      // Stryker disable next-line ObjectLiteral,BooleanLiteral: an AbortSignal fires 'abort' at most once, and settle removes the listener
      signal.addEventListener('abort', onAbort, { once: true });
      const handler: Handler = {
        onRequestStart(started) {
          controller = started;
          if (signal.aborted) started.abort(signal.reason as Error);
        },
        onResponseStart(current, statusCode, responseHeaders) {
          status = statusCode;
          if (statusCode < 200) return;
          if (isRedirect(statusCode)) {
            const location = responseHeader(responseHeaders, 'location');
            stop(current, undefined, location === undefined ? { status, text: '' } : { status, text: '', location });
            return;
          }
          const declared = Number(responseHeader(responseHeaders, 'content-length') ?? Number.NaN);
          if (declared > maxBytes) stop(current, certificateAnswerTooLarge(maxBytes, declared));
        },
        onResponseData(current, chunk) {
          if (status < 200 || settled) return;
          size += chunk.byteLength;
          if (size > maxBytes) {
            stop(current, certificateAnswerTooLarge(maxBytes));
            return;
          }
          chunks.push(new Uint8Array(chunk));
        },
        onResponseEnd() {
          const all = new Uint8Array(size);
          let at = 0;
          for (const chunk of chunks) {
            all.set(chunk, at);
            at += chunk.byteLength;
          }
          settle(undefined, { status, text: new TextDecoder().decode(all) });
        },
        onResponseError(_controller, error) {
          settle(error);
        },
      };
      try {
        dispatch(
          {
            origin: target.origin,
            path: `${target.pathname}${target.search}`,
            method: 'POST',
            headers: { ...headers, 'content-length': String(encoder.encode(body).byteLength) },
            body,
            // Not followed, whatever is composed below (see docs/security.md).
            maxRedirections: 0,
          } as Dispatcher.DispatchOptions,
          handler,
        );
      } catch (error) {
        settle(error);
      }
    });
}
