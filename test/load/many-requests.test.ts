/**
 * Issue 7, load: 1 000 concurrent encrypted requests (half streamed) against the mock server, in
 * a child process on the built library (many-requests.mjs): every answer right, exactly one
 * certificate fetch, 1 000 distinct session tokens, no plaintext on the wire, and once the server
 * is closed no handle left open: the process exits on its own.
 */
import { expect, it } from 'vitest';
import { runChild } from './child.js';

interface Summary {
  requests: number;
  correct: number;
  failures: unknown[];
  elapsedMs: number;
  certificateRequests: number;
  chatRequests: number;
  encryptedRequests: number;
  distinctTokens: number;
  plaintextOnWire: number;
  activeResources: string[];
}

/** What may still be listed once everything is closed: the child's own stdio pipes. */
const STDIO = new Set(['PipeWrap', 'TTYWrap']);

it('1 000 concurrent encrypted requests: all right, one certificate fetch, distinct sessions, no leaked handle', async () => {
  const { result, exitMs, code } = await runChild<Summary>('many-requests.mjs', { REQUESTS: '1000' });
  console.log(
    `1 000 concurrent encrypted requests: ${result.elapsedMs} ms; certificate fetches ${result.certificateRequests}; ` +
      `distinct session tokens ${result.distinctTokens}; active resources after close ${JSON.stringify(result.activeResources)}; ` +
      `exited ${Math.round(exitMs)} ms after its last line`,
  );
  expect(result.failures).toEqual([]);
  expect(result.correct).toBe(1000);
  expect(result.chatRequests).toBe(1000);
  expect(result.encryptedRequests).toBe(1000);
  expect(result.certificateRequests).toBe(1);
  expect(result.distinctTokens).toBe(1000);
  expect(result.plaintextOnWire).toBe(0);
  expect(result.activeResources.filter((name) => !STDIO.has(name))).toEqual([]);
  expect(code).toBe(0);
  expect(exitMs).toBeLessThan(5_000);
}, 120_000);
