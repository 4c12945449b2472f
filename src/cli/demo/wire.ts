/**
 * What the demo shows of the wire: the fetch under the encryption records every exchange both
 * ways, and `showWire` prints, for each, what crossed encrypted and what crossed in plain text.
 */
import { certificateKeyPin } from '../../certificates/trust.js';
import { parseCertificate } from '../../protocol/certificate.js';

export interface Exchange {
  url: string;
  headers: Headers;
  body: string;
  answer?: Promise<string>;
}

export interface Paint {
  bold(text: string): string;
  dim(text: string): string;
  green(text: string): string;
  cyan(text: string): string;
  yellow(text: string): string;
}

export function painter(color: boolean): Paint {
  const paint = (code: string) => (text: string): string => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
  return { bold: paint('1'), dim: paint('2'), green: paint('32'), cyan: paint('36'), yellow: paint('33') };
}

export const short = (text: string, keep = 44): string => (text.length > keep ? `${text.slice(0, keep)}…(${text.length} chars)` : text);

/** The fetch under the encryption: it sees exactly what goes over the wire, both ways. */
export function wireRecorder(): { exchanges: Exchange[]; fetchOnWire: typeof fetch } {
  const exchanges: Exchange[] = [];
  const fetchOnWire = (async (url: string | URL | Request, init?: RequestInit) => {
    const exchange: Exchange = { url: String(url), headers: new Headers(init?.headers), body: typeof init?.body === 'string' ? init.body : '' };
    exchanges.push(exchange);
    const response = await fetch(url, init);
    if (!response.body) return response;
    const [mine, theirs] = response.body.tee();
    exchange.answer = new Response(mine).text();
    return new Response(theirs, { status: response.status, statusText: response.statusText, headers: response.headers });
  }) as typeof fetch;
  return { exchanges, fetchOnWire };
}

/** Whether a chat request put its message contents on the wire as ciphertext only. */
export function contentsEncrypted(exchange: Exchange, secrets: readonly string[]): boolean {
  return exchange.headers.get('x-is-encrypted') === 'true' && !secrets.some((secret) => exchange.body.includes(secret));
}

interface WireAnswer {
  contents: string[];
  toolCalls: string[];
}

function answerOnWire(text: string): WireAnswer {
  const contents: string[] = [];
  const toolCalls: string[] = [];
  const take = (part: { content?: unknown; tool_calls?: { function?: { name?: string; arguments?: string } }[] } | undefined): void => {
    if (typeof part?.content === 'string' && part.content !== '') contents.push(part.content);
    for (const call of part?.tool_calls ?? []) {
      // A stream sends the name once, then the arguments in pieces.
      if (call.function?.name) toolCalls.push(`${call.function.name}(${call.function.arguments ?? ''}`);
      else if (toolCalls.length > 0) toolCalls[toolCalls.length - 1] += call.function?.arguments ?? '';
    }
  };
  try {
    if (text.startsWith('data:') || text.includes('\ndata:')) {
      for (const line of text.split('\n')) {
        if (line.startsWith('data: {')) take((JSON.parse(line.slice(6)) as { choices?: { delta?: object }[] }).choices?.[0]?.delta);
      }
    } else {
      const body = JSON.parse(text) as { choices?: { message?: object }[]; error?: unknown };
      if (body.error !== undefined) contents.push(`error ${JSON.stringify(body.error)}`);
      take(body.choices?.[0]?.message);
    }
  } catch {
    contents.push(text);
  }
  return { contents, toolCalls: toolCalls.map((call) => `${call})`) };
}

/** Prints the wire view of the exchanges since `from`. */
export async function showWire(exchanges: readonly Exchange[], from: number, paint: Paint, out: NodeJS.WritableStream): Promise<void> {
  const line = (text: string): void => void out.write(`${text}\n`);
  for (const exchange of exchanges.slice(from)) {
    const action = /[?&]Action=(\w+)/.exec(exchange.url)?.[1];
    if (action) {
      // The signature is shown without its value; the secret key never crosses the wire.
      const signature = exchange.headers.get('authorization')?.replace(/Signature=\w+/, 'Signature=…');
      line(paint.dim(`   OpenAPI ${action}, ${signature ?? 'unsigned'}`));
      let result: { ExpiredTime?: number; PCAInstanceCertificate?: string } = {};
      try {
        result = (JSON.parse((await exchange.answer) ?? '{}') as { Result?: typeof result }).Result ?? {};
      } catch {
        // not JSON: nothing more to show
      }
      if (result.ExpiredTime) line(paint.dim(`   → a short-lived API key for the endpoint, valid to ${new Date(result.ExpiredTime * 1000).toISOString().slice(0, 10)}`));
      if (result.PCAInstanceCertificate) {
        line(paint.dim(`   → the model certificate, key pin ${await certificateKeyPin(result.PCAInstanceCertificate)}, with its sub-CA and root (chain checked)`));
      }
      continue;
    }
    if (exchange.url.endsWith('/e2e/get/certificate')) {
      const text = (await exchange.answer) ?? '';
      try {
        const pem = (JSON.parse(text) as { Certificate: string }).Certificate;
        const cert = parseCertificate(pem);
        line(paint.dim(`   handshake: fetched the model certificate, key pin ${await certificateKeyPin(pem)}, valid to ${cert.notAfter.toISOString().slice(0, 10)}`));
      } catch {
        line(paint.dim(`   certificate endpoint answered: ${short(text, 80)}`));
      }
      continue;
    }
    const token = exchange.headers.get('x-session-token');
    if (token) line(paint.dim(`   session token (ephemeral P-256 key): ${short(token, 24)}`));
    try {
      const sent = JSON.parse(exchange.body) as { messages?: { role: string; content?: unknown; tool_calls?: { function: { name: string; arguments: string } }[] }[]; tools?: unknown[] };
      for (const message of sent.messages ?? []) {
        const content = typeof message.content === 'string' ? message.content : JSON.stringify(message.content ?? null);
        line(`   ${paint.cyan('→ wire')} ${message.role.padEnd(9)} ${short(content)}`);
        for (const call of message.tool_calls ?? []) {
          line(`   ${paint.cyan('→ wire')} ${''.padEnd(9)} ${paint.yellow('plain text:')} tool call ${call.function.name}(${call.function.arguments})`);
        }
      }
      if (sent.tools) line(`   ${paint.cyan('→ wire')} ${'tools'.padEnd(9)} ${paint.yellow('plain text:')} ${sent.tools.length} tool definition(s)`);
    } catch {
      // not a JSON body
    }
    const text = await exchange.answer;
    if (text === undefined) continue;
    const answer = answerOnWire(text);
    if (answer.contents.length > 0) {
      const more = answer.contents.length > 1 ? ` (+${answer.contents.length - 1} more encrypted chunks)` : '';
      line(`   ${paint.cyan('← wire')} ${short(answer.contents[0]!)}${more}`);
    }
    if (answer.toolCalls.length > 0) {
      line(`   ${paint.cyan('← wire')} ${paint.yellow('plain text:')} tool call ${short(answer.toolCalls.join(', '), 80)}`);
    }
  }
}
