/**
 * A promise that settles as `promise` does, or rejects with the signal's reason as soon as it
 * aborts: a caller who gives up is not kept waiting on work shared with others (a certificate or
 * key fetch in flight), and the listener is removed once either happens.
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | null | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
