/**
 * A loopback server in front of the mock Ark service, for the composition tests: it records every
 * request as it arrived (headers, raw body) and answers chat requests by a plan, one step per
 * request (a status such as 503, a redirect, or `forward` to the service behind it). Certificate
 * requests and chat requests past the plan are forwarded.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type GateStep = 'forward' | { status: number; location?: string };

export interface GateRecord {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

export interface GateServer {
  /** `http://127.0.0.1:PORT/api/v3` */
  readonly url: string;
  readonly origin: string;
  readonly requests: GateRecord[];
  /** The chat requests received (certificate requests left out). */
  chats(): GateRecord[];
  /** The steps for the next chat requests, in order. */
  plan(steps: GateStep[]): void;
  close(): Promise<void>;
}

function flatHeaders(request: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

/** Starts a gate in front of `upstream` (the mock's `url`, with its `/api/v3`). */
export async function startGateServer(upstream: string): Promise<GateServer> {
  const target = new URL(upstream);
  const requests: GateRecord[] = [];
  let steps: GateStep[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const record: GateRecord = {
        method: request.method ?? 'GET',
        path: request.url ?? '/',
        headers: flatHeaders(request),
        body: body.toString('utf8'),
      };
      requests.push(record);
      const step = record.path.includes('/chat/completions') ? (steps.shift() ?? 'forward') : 'forward';
      if (step !== 'forward') {
        const headers: Record<string, string> = { 'content-type': 'application/json', connection: 'close' };
        if (step.location !== undefined) headers.location = step.location;
        const text = JSON.stringify({ error: { message: `gate answered ${step.status}`, type: 'gate', code: 'gate' } });
        response.writeHead(step.status, { ...headers, 'content-length': String(Buffer.byteLength(text)) });
        response.end(text);
        return;
      }
      const headers: Record<string, string> = { ...record.headers, host: target.host, 'content-length': String(body.byteLength) };
      delete headers['transfer-encoding'];
      const up = httpRequest(
        { host: target.hostname, port: target.port, method: record.method, path: record.path, headers },
        (answer) => {
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
        },
      );
      up.on('error', () => response.destroy());
      up.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${origin}${target.pathname.replace(/\/+$/, '')}`,
    origin,
    requests,
    chats: () => requests.filter((record) => record.path.includes('/chat/completions')),
    plan(next) {
      steps = [...next];
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
