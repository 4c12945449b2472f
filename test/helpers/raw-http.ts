/**
 * One HTTP/1.1 request written byte for byte on a socket: header lines exactly as given (the
 * same name twice, names in any case, any Connection list), which fetch and node:http would
 * merge or refuse. For the proxy's tests. The answer is read until the server closes the
 * connection (Connection: close is added unless a Connection line is given; one must say close).
 */
import { connect } from 'node:net';

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function dechunked(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const end = body.indexOf('\r\n', at);
    if (end < 0) break;
    const size = Number.parseInt(body.subarray(at, end).toString('latin1'), 16);
    if (!(size > 0)) break;
    parts.push(body.subarray(end + 2, end + 2 + size));
    at = end + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

export function rawRequest(
  port: number,
  method: string,
  path: string,
  headers: ReadonlyArray<readonly [string, string]>,
  body: string | Uint8Array = '',
): Promise<RawAnswer> {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body);
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', ...headers.map(([name, value]) => `${name}: ${value}`)];
  if (!headers.some(([name]) => name.toLowerCase() === 'connection')) lines.push('Connection: close');
  lines.push(`Content-Length: ${bytes.byteLength}`);
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const all = Buffer.concat(chunks);
      const split = all.indexOf('\r\n\r\n');
      const head = all.subarray(0, split).toString('latin1').split('\r\n');
      const answerHeaders: Record<string, string> = {};
      for (const line of head.slice(1)) {
        const colon = line.indexOf(':');
        answerHeaders[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const rest = all.subarray(split + 4);
      const text = (answerHeaders['transfer-encoding'] === 'chunked' ? dechunked(rest) : rest).toString('utf8');
      resolve({ status: Number(head[0]!.split(' ')[1]), headers: answerHeaders, body: text });
    });
    // Not end(): a server drops a half-closed connection before it answers.
    socket.write(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), bytes]));
  });
}
