/**
 * A loopback chat server that answers encrypted requests however a test scripts it: genuine
 * ciphertexts of the request's own session (it holds the certificate's key, as the service
 * does), plain text, injected JSON, or bytes without end. It records every request (to check
 * that no plain text went out) and tells when the client let go of a connection.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { makeCertificate } from './make-certificate.js';
import { deriveSession, serverEncrypt } from './server-crypto.js';

export interface HostileExchange {
  request: IncomingMessage;
  body: string;
  response: ServerResponse;
  /** Encrypts a text under this request's session (a genuine ciphertext). */
  seal: (text: string) => string;
}

export interface HostileServer {
  url: string;
  /** The certificate to give the client (so no certificate request is made). */
  pem: string;
  /** Every request body received, in order. */
  bodies: string[];
  /** Resolves when the socket of the next chat request closes; set before the request. */
  nextClose(): Promise<void>;
  close(): Promise<void>;
}

export async function startHostileServer(answer: (exchange: HostileExchange) => void | Promise<void>): Promise<HostileServer> {
  const { pem, privateKey } = makeCertificate();
  const bodies: string[] = [];
  let closeWaiter: (() => void) | undefined;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      bodies.push(body);
      const waiter = closeWaiter;
      closeWaiter = undefined;
      if (waiter) request.socket.once('close', waiter);
      const token = request.headers['x-session-token'];
      const session = typeof token === 'string' ? deriveSession(privateKey, token) : undefined;
      const seal = (text: string): string => {
        if (!session) throw new Error('the request carried no session token');
        return serverEncrypt(session.key, session.nonce, text);
      };
      Promise.resolve(answer({ request, body, response, seal })).catch(() => response.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/api/v3`,
    pem,
    bodies,
    nextClose: () => new Promise<void>((resolve) => (closeWaiter = resolve)),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Writes `chunk` again and again, as fast as the client reads, until the connection closes. */
export function writeForever(response: ServerResponse, chunk: Buffer): void {
  let closed = false;
  response.on('close', () => (closed = true));
  const pump = (): void => {
    while (!closed) {
      if (!response.write(chunk)) {
        response.once('drain', pump);
        return;
      }
    }
  };
  pump();
}

/** An SSE event of one JSON chunk. */
export const sseEvent = (chunk: unknown): string => `data: ${JSON.stringify(chunk)}\n\n`;
