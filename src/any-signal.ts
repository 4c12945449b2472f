/**
 * One signal that aborts when any of several does, with that one's reason: `AbortSignal.any`
 * where the runtime has it, else the same built on an AbortController. Some runtimes the browser
 * build serves lack `AbortSignal.any` (edge-runtime, Vercel's local Edge runtime; Safari before
 * 17.4), and without this the certificate fetch failed there before anything was sent.
 */
export function anySignal(signals: readonly AbortSignal[]): AbortSignal {
  const native = (AbortSignal as { any?: (signals: AbortSignal[]) => AbortSignal }).any;
  if (typeof native === 'function') return native.call(AbortSignal, [...signals]);

  const controller = new AbortController();
  const already = signals.find((signal) => signal.aborted);
  if (already) {
    controller.abort(already.reason);
    return controller.signal;
  }
  const listeners = signals.map((signal) => {
    const onAbort = (): void => {
      for (const [other, listener] of listeners) other.removeEventListener('abort', listener);
      controller.abort(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    return [signal, onAbort] as const;
  });
  return controller.signal;
}
