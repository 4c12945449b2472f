/**
 * anySignal (src/any-signal.ts): AbortSignal.any where the runtime has it, and the same meaning
 * where it does not (edge-runtime's AbortSignal, Safari before 17.4): aborted as soon as one of
 * the signals is, with that signal's reason.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { anySignal } from '../../src/any-signal.js';

describe.each([
  ['with AbortSignal.any', false],
  ['without AbortSignal.any', true],
])('anySignal %s', (_name, withoutAny) => {
  afterEach(() => vi.unstubAllGlobals());
  const setUp = (): void => {
    if (!withoutAny) return;
    class NoAny extends AbortSignal {}
    Object.defineProperty(NoAny, 'any', { value: undefined });
    vi.stubGlobal('AbortSignal', NoAny);
    expect(typeof (AbortSignal as { any?: unknown }).any).toBe('undefined');
  };

  it('is aborted by whichever signal aborts first, with its reason', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.nat(), fc.string(), (count, pick, reason) => {
        setUp();
        const controllers = Array.from({ length: count }, () => new AbortController());
        const combined = anySignal(controllers.map((c) => c.signal));
        expect(combined.aborted).toBe(false);
        const seen: unknown[] = [];
        combined.addEventListener('abort', () => seen.push(combined.reason));
        controllers[pick % count]!.abort(reason);
        expect(combined.aborted).toBe(true);
        expect(combined.reason).toBe(reason);
        for (const c of controllers) c.abort('later');
        expect(combined.reason).toBe(reason);
        expect(seen).toEqual([reason]);
        vi.unstubAllGlobals();
      }),
    );
  });

  it('is aborted at once when a signal already is', () => {
    setUp();
    const done = new AbortController();
    done.abort('already');
    const combined = anySignal([new AbortController().signal, done.signal]);
    expect(combined.aborted).toBe(true);
    expect(combined.reason).toBe('already');
  });

  it('stays open while none aborts', () => {
    setUp();
    expect(anySignal([new AbortController().signal, new AbortController().signal]).aborted).toBe(false);
  });
});
