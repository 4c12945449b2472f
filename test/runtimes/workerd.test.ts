/**
 * Cloudflare Workers: workerd (the `workerd` npm package's binary, run directly with a config of
 * its own) serves a Worker bundled by esbuild from fixtures/workerd-worker.mjs, `ark-e2ee` taken
 * by name with the `workerd`, `worker` and `browser` conditions (the package answers with its
 * browser build: noble, no `node:` module, no nodejs_compat flag). The Worker makes a plain and a
 * streamed encrypted chat against the mock Ark server on loopback, through its own fetch.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockArkServer, type MockArkServer } from '../../src/testing/index.js';
import { bundleWorker, type WorkerBundle } from './bundle-worker.js';
import {
  API_KEY,
  chatRun,
  expectChats,
  expectEncryptedOnTheWire,
  removeApp,
  requireBuild,
  runtimeBinary,
  skipUnlessRunnable,
  type ChatResults,
  type ChatRun,
} from './helpers.js';

const workerd = runtimeBinary('workerd');
const COMPATIBILITY_DATE = '2026-11-01';

/**
 * The workerd config (Cap'n Proto text): the Worker on an HTTP socket of a free loopback port
 * (reported on the control fd), its outbound fetch through a network service that may reach
 * loopback (workerd's default reaches public addresses only).
 */
function config(): string {
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "loopback", network = (allow = ["local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed "worker.js")],
  compatibilityDate = "${COMPATIBILITY_DATE}",
  globalOutbound = "loopback",
);
`;
}

interface WorkerResults extends ChatResults {
  backend: string;
  hasProcess: boolean;
  userAgent: string | null;
}

describe.skipIf(skipUnlessRunnable('workerd', workerd))('ark-e2ee in a Cloudflare Worker (workerd)', () => {
  let mock: MockArkServer;
  let dir: string;
  let child: ChildProcess | undefined;
  let bundle: WorkerBundle;
  let run: ChatRun;
  let status: number;
  let body: string;
  const output: string[] = [];

  beforeAll(async () => {
    requireBuild();
    if ('problem' in workerd) throw new Error(workerd.problem);
    mock = await startMockArkServer({ apiKey: API_KEY });
    bundle = await bundleWorker('test/runtimes/fixtures/workerd-worker.mjs', ['workerd', 'worker', 'browser'], 'esm');
    dir = mkdtempSync(join(tmpdir(), 'ark-e2ee-workerd-'));
    writeFileSync(join(dir, 'worker.js'), bundle.code);
    writeFileSync(join(dir, 'config.capnp'), config());
    child = spawn(workerd.path, ['serve', 'config.capnp', '--control-fd=3'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    child.stdout!.setEncoding('utf8').on('data', (text: string) => output.push(text));
    child.stderr!.setEncoding('utf8').on('data', (text: string) => output.push(text));
    const port = await new Promise<number>((resolve, reject) => {
      child!.on('exit', (code) => reject(new Error(`workerd exited with ${code}:\n${output.join('')}`)));
      createInterface({ input: child!.stdio[3] as Readable }).on('line', (line) => {
        const event = JSON.parse(line) as { event?: string; socket?: string; port?: number };
        if (event.event === 'listen' && event.socket === 'http' && event.port) resolve(event.port);
      });
    });
    run = chatRun(mock, 'workerd');
    const response = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: JSON.stringify(run) });
    status = response.status;
    body = await response.text();
    const hasProcess = status === 200 ? (JSON.parse(body) as WorkerResults).hasProcess : undefined;
    console.log(
      `test/runtimes: ${workerd.version} (compatibility date ${COMPATIBILITY_DATE}), bundle ${bundle.entry}, process global: ${hasProcess}`,
    );
  }, 120_000);

  afterAll(async () => {
    child?.kill();
    await mock?.close();
    removeApp(dir);
  });

  it('the bundle takes the browser build: no node: module, none of the Node-only modules', () => {
    expect(bundle.entry).toBe('dist/browser.js');
    expect(bundle.nodeOnly).toEqual([]);
  });

  it('makes a plain and a streamed encrypted chat: answers decrypted, no plaintext on the wire', () => {
    expect(status, `${body}\n${output.join('')}`).toBe(200);
    const results = JSON.parse(body) as WorkerResults;
    expect(results.userAgent).toBe('Cloudflare-Workers');
    // Recent compatibility dates give Workers a `process` global: the browser build ignores it.
    expect(results.backend).toBe('noble');
    expectChats(results, run);
    expectEncryptedOnTheWire(mock, run);
  });
});
