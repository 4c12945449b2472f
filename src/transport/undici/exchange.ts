/**
 * One request that asked for encryption, through the undici interceptor (index.ts): its body
 * read and encrypted, the encrypted request dispatched once, and its answer decrypted on the way
 * up (a JSON answer whole, an event stream as it flows). Errors reach the caller through the
 * handler's onResponseError as the library's typed errors; when encryption fails, nothing is
 * dispatched.
 */
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { DecryptionFailedError, EventStreamError, UnsupportedRequestError } from '../../errors.js';
import { EventStreamDecrypter } from '../../protocol/event-stream.js';
import type { Session } from '../../protocol/session.js';
import { raceAbort } from '../../race-abort.js';
import { answerTooLarge } from '../bounded-body.js';
import { isEventStream, type ArkEncryptor } from '../encryptor.js';
import { ForwardingController } from './controller.js';
import {
  collectBody,
  discardBody,
  dispatchUrl,
  forwardedHeaders,
  headerPairs,
  responseHeader,
  type ResponseHeaders,
} from './dispatch-options.js';
import { sentTwiceError } from './resend.js';

type Handler = Dispatcher.DispatchHandler;
type Controller = Dispatcher.DispatchController;
type UpgradeSocket = Parameters<NonNullable<Handler['onRequestUpgrade']>>[3];

/** One request that asked for encryption: prepared, dispatched, and its answer decrypted. */
export class EncryptedExchange implements Handler {
  private readonly outer: ForwardingController;
  private readonly preparation = new AbortController();
  private session: Session | undefined;
  /** How the answer's body is handled: as it comes (until a 2xx answer with a body), or decrypted. */
  private mode: 'pass' | 'json' | 'sse' = 'pass';
  /** The caller's handler has had its last word (onResponseEnd or onResponseError). */
  private done = false;
  /** The encrypted request has started out once (onRequestStart from below). */
  private sent = false;
  private failure: unknown;
  private inner: Controller | undefined;
  private status = 0;
  private statusMessage: string | undefined;
  private headers: ResponseHeaders = {};
  private readonly chunks: Uint8Array[] = [];
  private jsonBytes = 0;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private decrypter: EventStreamDecrypter | undefined;

  constructor(
    private readonly encryptor: ArkEncryptor,
    private readonly dispatch: Dispatcher.Dispatch,
    private readonly opts: Dispatcher.DispatchOptions,
    /**
     * The caller's handler, of undici's new style (onRequestStart, onResponseStart, …): what
     * compose hands every interceptor, old-style handlers wrapped by undici itself.
     */
    private readonly handler: Handler,
    /** This request was sent before, and a layer above sends it again (a retry, a redirect). */
    private readonly again = false,
  ) {
    this.outer = new ForwardingController((reason) => this.preparation.abort(reason));
  }

  start(): void {
    // The caller's handler gets its controller now, so that an abort during the (async)
    // certificate phase is seen, and stops everything before anything is dispatched.
    this.handler.onRequestStart?.(this.outer, undefined);
    this.prepareAndSend().catch((error: unknown) => {
      // Only a throwing caller handler lands here: surface it as undici does.
      queueMicrotask(() => {
        throw error;
      });
    });
  }

  /** Ends the exchange with `error` before anything is dispatched (the body is released). */
  refuse(error: unknown): void {
    this.handler.onRequestStart?.(this.outer, undefined);
    discardBody(this.opts.body);
    this.deliverError(error);
  }

  private async prepare(): Promise<{ opts: Dispatcher.DispatchOptions; session: Session }> {
    const url = dispatchUrl(this.opts);
    const headers = new Headers();
    for (const [name, value] of headerPairs(this.opts.headers)) headers.append(name, value);
    const body = await collectBody(this.opts.body, this.preparation.signal);
    if (this.again && body.length === 0) {
      throw new UnsupportedRequestError(
        'a retry or redirect sent an encrypted request again, but its body was a stream already ' +
          'read the first time, so there is nothing to encrypt; nothing was sent',
      );
    }
    const encrypted = await this.encryptor.encryptRequest({
      method: this.opts.method,
      url,
      headers,
      body,
      signal: this.preparation.signal,
    });
    const plain: Record<string, string> = {};
    encrypted.headers.forEach((value, name) => {
      plain[name] = value;
    });
    delete plain['transfer-encoding'];
    plain['content-length'] = String(Buffer.byteLength(encrypted.body));
    // The answer must be decrypted here, byte for byte: ask for it uncompressed.
    plain['accept-encoding'] = 'identity';
    // A body that can be read once: a retry or redirect interceptor below this one sees it
    // disturbed and does not send the same session again (it passes the answer or error up).
    const once = Readable.from([Buffer.from(encrypted.body)], { objectMode: false });
    return { opts: { ...this.opts, headers: plain, body: once }, session: encrypted.session };
  }

  private async prepareAndSend(): Promise<void> {
    if (this.outer.aborted) {
      discardBody(this.opts.body);
      this.deliverError(this.outer.reason);
      return;
    }
    let prepared: { opts: Dispatcher.DispatchOptions; session: Session };
    try {
      prepared = await raceAbort(this.prepare(), this.preparation.signal);
    } catch (error) {
      discardBody(this.opts.body);
      this.deliverError(this.outer.aborted ? this.outer.reason : error);
      return;
    }
    if (this.outer.aborted) {
      this.deliverError(this.outer.reason);
      return;
    }
    this.session = prepared.session;
    try {
      this.dispatch(prepared.opts, this);
    } catch (error) {
      this.deliverError(error);
    }
  }

  private deliverError(error: unknown, later = false): void {
    if (this.done) return;
    this.done = true;
    const reason = error instanceof Error ? error : new Error(String(error));
    if (!later) {
      this.handler.onResponseError?.(this.outer, reason);
      return;
    }
    // undici's fetch listens for a failing body only once the promise of its response has
    // settled: an error in the same tick as the response start would leave its body hanging.
    setImmediate(() => this.handler.onResponseError?.(this.outer, reason));
  }

  /** Stops the answer with `error`: the connection is aborted and the caller gets the error. */
  private fail(error: unknown): void {
    if (this.done) return;
    this.failure ??= error;
    this.deliverError(this.failure, this.mode === 'sse');
    // Stryker disable next-line OptionalChaining: fail() runs only from onResponseStart on, which sets inner from undici's (never null) controller
    this.inner?.abort(error instanceof Error ? error : new Error(String(error)));
  }

  private emit(text: string): void {
    if (text !== '' && !this.done) this.handler.onResponseData?.(this.outer, Buffer.from(text));
  }

  private decodeStream(bytes?: Uint8Array): string {
    try {
      return bytes === undefined ? this.decoder.decode() : this.decoder.decode(bytes, { stream: true });
    } catch (error) {
      // TextDecoder throws only its own TypeError here, never one of ours.
      throw new EventStreamError('the answer stream is not valid UTF-8', { cause: error });
    }
  }

  onRequestStart(controller: Controller): void {
    if (this.sent) {
      // A layer below (a retry or redirect interceptor composed before this one, or any that
      // keeps the body) is sending this encrypted request again. undici calls this before the
      // first byte goes out: stop it here, so the session never leaves twice.
      const error = sentTwiceError();
      this.deliverError(error);
      controller.abort(error);
      return;
    }
    this.sent = true;
    this.inner = controller;
    this.outer.attach(controller);
  }

  onRequestUpgrade(controller: Controller, statusCode: number, headers: ResponseHeaders, socket: UpgradeSocket): void {
    this.outer.attach(controller);
    this.handler.onRequestUpgrade?.(this.outer, statusCode, headers, socket);
  }

  onResponseStart(controller: Controller, statusCode: number, headers: ResponseHeaders, statusMessage?: string): void {
    if (this.done) return;
    this.inner ??= controller;
    this.outer.attach(controller);
    if (statusCode < 200 || statusCode >= 300 || statusCode === 204 || statusCode === 205) {
      // Informational and error answers are not encrypted: they pass as they are.
      this.handler.onResponseStart?.(this.outer, statusCode, headers, statusMessage);
      return;
    }
    const encoding = responseHeader(headers, 'content-encoding');
    if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
      this.fail(
        new DecryptionFailedError(
          `the answer to an encrypted request came compressed (${encoding}) although identity was ` +
            'asked for, so it cannot be decrypted; not trusting it',
        ),
      );
      return;
    }
    this.status = statusCode;
    this.statusMessage = statusMessage;
    this.headers = forwardedHeaders(headers);
    if (isEventStream(responseHeader(headers, 'content-type'))) {
      this.mode = 'sse';
      this.decrypter = new EventStreamDecrypter(this.session!, this.encryptor.streamOptions);
      this.handler.onResponseStart?.(this.outer, statusCode, this.headers, statusMessage);
    } else {
      // JSON: held back until the whole answer is in and decrypted (its length changes).
      this.mode = 'json';
      const announced = Number(responseHeader(headers, 'content-length') ?? Number.NaN);
      if (announced > this.encryptor.maxAnswerBytes) this.fail(answerTooLarge(this.encryptor.maxAnswerBytes));
    }
  }

  onResponseData(_controller: Controller, chunk: Buffer): void {
    if (this.done) return;
    if (this.mode === 'json') {
      this.jsonBytes += chunk.byteLength;
      if (this.jsonBytes > this.encryptor.maxAnswerBytes) this.fail(answerTooLarge(this.encryptor.maxAnswerBytes));
      else this.chunks.push(chunk);
    } else if (this.mode === 'sse') {
      try {
        this.emit(this.decrypter!.push(this.decodeStream(chunk)));
      } catch (error) {
        // The events complete before the failure were authenticated: they go out first.
        this.emit(this.decrypter!.drain());
        this.fail(error);
      }
    } else {
      this.handler.onResponseData?.(this.outer, chunk);
    }
  }

  onResponseEnd(_controller: Controller, trailers: ResponseHeaders): void {
    if (this.done) return;
    if (this.mode === 'sse') {
      try {
        const decrypter = this.decrypter!;
        this.emit(decrypter.push(this.decodeStream()) + decrypter.end());
      } catch (error) {
        this.emit(this.decrypter!.drain());
        this.fail(error);
        return;
      }
    } else if (this.mode === 'json') {
      this.deliverJson();
      if (this.done) return;
    }
    if (this.outer.aborted) {
      this.deliverError(this.outer.reason);
      return;
    }
    this.done = true;
    try {
      this.handler.onResponseEnd?.(this.outer, trailers);
    } catch (error) {
      // The caller's handler refused the end (undici's retry handler throws there to ask for
      // a retry): as undici does, it gets the error it threw, the exchange's last word.
      this.handler.onResponseError?.(this.outer, error instanceof Error ? error : new Error(String(error)));
    }
  }

  private deliverJson(): void {
    let body: Buffer;
    try {
      const text = new TextDecoder().decode(Buffer.concat(this.chunks));
        body = Buffer.from(this.encryptor.decryptJsonText(text, this.session!));
    } catch (error) {
      this.deliverError(error);
      return;
    }
    this.headers['content-length'] = String(body.byteLength);
    this.handler.onResponseStart?.(this.outer, this.status, this.headers, this.statusMessage);
    if (this.outer.aborted) {
      this.deliverError(this.outer.reason);
      return;
    }
    // Never empty: the text of a JSON value ("0" at the least). An abort in onResponseData is
    // met by onResponseEnd, this method's only caller, right after it returns.
    this.handler.onResponseData?.(this.outer, body);
  }

  onResponseError(_controller: Controller | null, error: Error): void {
    this.deliverError(this.failure ?? error);
  }
}
