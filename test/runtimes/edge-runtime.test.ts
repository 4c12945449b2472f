/**
 * Vercel Edge: edge-runtime (the npm package Vercel's tooling runs Edge Functions with locally)
 * evaluates an Edge Function bundled by esbuild from fixtures/edge-worker.mjs, `ark-e2ee` taken by
 * name with the `edge-light`, `worker` and `browser` conditions (the package answers with its
 * browser build: noble, no `node:` module). The function makes a plain and a streamed encrypted
 * chat against the mock Ark server on loopback, through the runtime's own fetch.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { EdgeRuntime } from 'edge-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockArkServer, type MockArkServer } from '../../src/testing/index.js';
import { bundleWorker, type WorkerBundle } from './bundle-worker.js';
import {
  API_KEY,
  chatRun,
  expectChats,
  expectEncryptedOnTheWire,
  requireBuild,
  ROOT,
  type ChatResults,
  type ChatRun,
} from './helpers.js';

interface EdgeResults extends ChatResults {
  backend: string;
  hasProcess: boolean;
  edgeRuntime: string | null;
}

const packageVersion = (name: string): string => {
  const entry = createRequire(join(ROOT, 'package.json')).resolve(name);
  const dir = entry.slice(0, entry.lastIndexOf(`/node_modules/${name}/`) + `/node_modules/${name}/`.length);
  return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
};

describe('ark-e2ee in a Vercel Edge Function (edge-runtime)', () => {
  let mock: MockArkServer;
  let bundle: WorkerBundle;
  let run: ChatRun;
  let status: number;
  let body: string;

  beforeAll(async () => {
    requireBuild();
    mock = await startMockArkServer({ apiKey: API_KEY });
    bundle = await bundleWorker('test/runtimes/fixtures/edge-worker.mjs', ['edge-light', 'worker', 'browser'], 'iife');
    const runtime = new EdgeRuntime({ initialCode: bundle.code });
    run = chatRun(mock, 'edge-runtime');
    const response = await runtime.dispatchFetch('http://edge.test/', { method: 'POST', body: JSON.stringify(run) });
    await response.waitUntil();
    status = response.status;
    body = await response.text();
    console.log(
      `test/runtimes: edge-runtime ${packageVersion('edge-runtime')} (@edge-runtime/vm ${packageVersion('@edge-runtime/vm')}), bundle ${bundle.entry}`,
    );
  }, 120_000);

  afterAll(async () => {
    await mock?.close();
  });

  it('the bundle takes the browser build: no node: module, none of the Node-only modules', () => {
    expect(bundle.entry).toBe('dist/browser.js');
    expect(bundle.nodeOnly).toEqual([]);
  });

  it('makes a plain and a streamed encrypted chat: answers decrypted, no plaintext on the wire', () => {
    expect(status, body).toBe(200);
    const results = JSON.parse(body) as EdgeResults;
    expect(results.edgeRuntime).toBe('edge-runtime');
    expect(results.backend).toBe('noble');
    expect(results.hasProcess).toBe(false);
    expectChats(results, run);
    expectEncryptedOnTheWire(mock, run);
  });
});
