/**
 * The encrypting proxy alone in its own process, for bench/proxy.mjs: process.cpuUsage() here
 * counts the proxy's work only (its event loop, V8's threads, OpenSSL), not the client's nor the
 * mock service's. Answers `cpu` with the process's CPU time so far (ms), `close` by exiting.
 */
const [distIndex, distProxy, upstream] = process.argv.slice(2);
await import(distIndex); // the Node entry: installs the node:crypto backend
const { startEncryptingProxy } = await import(distProxy);
const proxy = await startEncryptingProxy({ upstream, cacheDir: false });
process.send({ url: proxy.url });
process.on('message', async (message) => {
  if (message === 'cpu') {
    const { user, system } = process.cpuUsage();
    process.send({ cpuMs: (user + system) / 1000 });
  } else if (message === 'close') {
    await proxy.close();
    process.disconnect();
  }
});
