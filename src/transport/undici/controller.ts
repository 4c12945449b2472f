/** The controller the interceptor (exchange.ts) hands the caller's handler. */
import type { Dispatcher } from 'undici';

type Controller = Dispatcher.DispatchController;

/**
 * The controller the caller's handler sees, from the start: during the certificate phase its
 * abort() stops the preparation; once the encrypted request is under way, it drives that one.
 */
export class ForwardingController implements Controller {
  private isAborted = false;
  private isPaused = false;
  private abortReason: Error | null = null;
  private inner: Controller | undefined;

  constructor(private readonly onAbort: (reason: Error) => void) {}

  get aborted(): boolean {
    return this.isAborted;
  }

  get paused(): boolean {
    return this.isPaused;
  }

  get reason(): Error | null {
    return this.abortReason;
  }

  abort(reason: Error): void {
    if (this.isAborted) return;
    this.isAborted = true;
    this.abortReason = reason ?? new Error('The request was aborted');
    if (this.inner) this.inner.abort(this.abortReason);
    else this.onAbort(this.abortReason);
  }

  pause(): void {
    this.isPaused = true;
    this.inner?.pause();
  }

  resume(): void {
    if (!this.isPaused) return;
    this.isPaused = false;
    this.inner?.resume();
  }

  /** The controller of the dispatched (encrypted) request. */
  attach(inner: Controller | null | undefined): void {
    if (!inner || inner === this.inner) return;
    this.inner = inner;
    // Stryker disable next-line LogicalOperator: abort() sets abortReason (never null) with isAborted, so && and || agree
    if (this.isAborted && this.abortReason) inner.abort(this.abortReason);
    else if (this.isPaused) inner.pause();
  }
}
