/**
 * The mock Ark server on its own thread, for the loopback workload of bench/run.mjs: the
 * service's work (its ECDH, its encryption) runs beside the client's, as it would on another
 * host, instead of on the client's event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';

const { startMockArkServer } = await import(workerData.testing);
const server = await startMockArkServer();
parentPort.postMessage({ url: server.url, certificatePem: server.certificatePem });
parentPort.once('message', async () => {
  await server.close();
  parentPort.close();
});
