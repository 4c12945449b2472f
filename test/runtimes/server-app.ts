/**
 * The suite the server-side runtimes share (Deno, Bun, Node): fixtures/app.mjs, run by the
 * runtime's own binary in a user's project folder, imports `ark-e2ee` by name, runs the package's
 * vectors on both backends and makes a plain and a streamed encrypted chat against the mock Ark
 * server on loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockArkServer, type MockArkServer } from '../../src/testing/index.js';
import {
  API_KEY,
  chatRun,
  expectChats,
  expectEncryptedOnTheWire,
  expectVectors,
  lastJsonLine,
  makeApp,
  removeApp,
  requireBuild,
  runChild,
  type AppResults,
  type ChatRun,
} from './helpers.js';

export interface ServerRuntime {
  /** As shown in test names: 'Deno', 'Bun', 'Node 22.1.0'. */
  name: string;
  /** The binary, and the arguments that run `app.mjs` (in `appDir`) with `runJson` as its one argument. */
  command: string;
  args: (appDir: string, runJson: string, mock: MockArkServer) => string[];
  env?: NodeJS.ProcessEnv;
  /** The `runtime` field app.mjs reports, e.g. /^deno 2\./. */
  reports: RegExp;
  /** The package entry the runtime resolves `ark-e2ee` to. */
  entry: RegExp;
  skip?: boolean;
}

export function describeServerRuntime(runtime: ServerRuntime): void {
  describe.skipIf(runtime.skip ?? false)(`ark-e2ee in ${runtime.name}`, () => {
    let mock: MockArkServer;
    let app: string;
    let run: ChatRun;
    let results: AppResults;

    beforeAll(async () => {
      requireBuild();
      mock = await startMockArkServer({ apiKey: API_KEY });
      app = makeApp();
      run = chatRun(mock, runtime.name);
      const child = await runChild(runtime.command, runtime.args(app, JSON.stringify(run), mock), {
        cwd: app,
        env: { ...process.env, ...runtime.env },
      });
      results = lastJsonLine<AppResults>(child, `${runtime.name} (${runtime.command})`);
      console.log(
        `test/runtimes: ${results.runtime}, backend ${results.backend}, entry ${results.entry.replace(/^.*\/(dist\/)/, '$1')}`,
      );
    }, 120_000);

    afterAll(async () => {
      await mock?.close();
      removeApp(app);
    });

    it('is the runtime it says, importing the package by name through node_modules', () => {
      expect(results.runtime).toMatch(runtime.reports);
      expect(results.entry).toMatch(runtime.entry);
    });

    it("runs every vector shipped with the package on both backends (node:crypto of the runtime, and noble)", () => {
      expectVectors(results);
    });

    it('makes a plain and a streamed encrypted chat: answers decrypted, no plaintext on the wire', () => {
      expectChats(results, run);
      expectEncryptedOnTheWire(mock, run);
      expect(mock.stats.certificateRequests).toBe(1);
    });
  });
}
