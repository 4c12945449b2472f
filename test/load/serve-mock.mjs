/**
 * Child process: a mock Ark server (the built library), for tests that must not share a process
 * with it. Prints `{"url": …}` on one line once it listens; closes when stdin ends.
 */
import { distModule } from './dist.mjs';

const { startMockArkServer } = await distModule('testing/index.js');
const server = await startMockArkServer({ apiKey: process.env.API_KEY || undefined });
process.stdout.write(`${JSON.stringify({ url: server.url, pid: process.pid })}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  void server.close();
});
