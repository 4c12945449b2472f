/**
 * The undici interceptor's certificate POST (certificate-http.ts) driven by a scripted dispatch:
 * what it sends, where it stops (redirects, size limits, aborts) and what it settles with.
 * test/transport/undici.test.ts covers the same code through a real undici Agent.
 */
import type { Dispatcher } from 'undici';
import { describe, expect, it, vi } from 'vitest';
import { CertificateUnavailableError } from '../../src/errors.js';
import { certificateHttpOverDispatch } from '../../src/transport/undici/certificate-http.js';

type Handler = Dispatcher.DispatchHandler;
type Controller = Dispatcher.DispatchController;

interface Exchange {
  handler: Handler;
  controller: Controller;
  abort: ReturnType<typeof vi.fn>;
  signal: AbortController;
}

function fakeController(): { controller: Controller; abort: ReturnType<typeof vi.fn> } {
  const abort = vi.fn();
  const controller = { abort, pause() {}, resume() {}, aborted: false, paused: false, reason: null } as unknown as Controller;
  return { controller, abort };
}

/** Sends one certificate POST; `script` plays the server's side, synchronously, inside dispatch. */
function post(
  script: (exchange: Exchange) => void,
  options: { maxBytes?: number } = {},
  body = '{"model":"m"}',
): { answer: Promise<{ status: number; text: string; location?: string }>; sent: Dispatcher.DispatchOptions[]; exchange: Exchange } {
  const sent: Dispatcher.DispatchOptions[] = [];
  const signal = new AbortController();
  const { controller, abort } = fakeController();
  const exchange = { handler: {} as Handler, controller, abort, signal };
  const dispatch = ((opts: Dispatcher.DispatchOptions, handler: Handler) => {
    sent.push(opts);
    exchange.handler = handler;
    script(exchange);
    return true;
  }) as Dispatcher.Dispatch;
  const http = certificateHttpOverDispatch(dispatch, options);
  const answer = http({ url: 'https://cert.example/v1/cert?tenant=a', headers: { authorization: 'Bearer k' }, body, signal: signal.signal });
  return { answer, sent, exchange };
}

const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');

/** A whole answer: start, the chunks, end. */
function answers(status: number, chunks: string[], headers: Record<string, string> = {}) {
  return ({ handler, controller }: Exchange): void => {
    handler.onRequestStart?.(controller, {});
    handler.onResponseStart?.(controller, status, headers, 'OK');
    for (const chunk of chunks) handler.onResponseData?.(controller, bytes(chunk));
    handler.onResponseEnd?.(controller, {});
  };
}

async function refusal(answer: Promise<unknown>): Promise<CertificateUnavailableError> {
  const error = await answer.then(() => undefined, (reason: unknown) => reason);
  expect(error).toBeInstanceOf(CertificateUnavailableError);
  expect((error as CertificateUnavailableError).code).toBe('ERR_ARK_E2EE_CERTIFICATE_UNAVAILABLE');
  return error as CertificateUnavailableError;
}

describe('what is sent', () => {
  it('posts to the origin and path with the search, the byte length of the body, no redirects', async () => {
    const { answer, sent } = post(answers(200, ['ok']), {}, '{"model":"é"}');
    await answer;
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ origin: 'https://cert.example', path: '/v1/cert?tenant=a', method: 'POST', body: '{"model":"é"}', maxRedirections: 0 });
    expect(sent[0]?.headers).toEqual({ authorization: 'Bearer k', 'content-length': '14' });
  });
});

describe('the answer', () => {
  it('joins the chunks in order', async () => {
    const { answer } = post(answers(200, ['{"cert', 'ificate":', '"x"}']));
    await expect(answer).resolves.toStrictEqual({ status: 200, text: '{"certificate":"x"}' });
  });

  it('keeps a non-2xx status and its body for the caller to read', async () => {
    const { answer } = post(answers(503, ['{"error":"busy"}']));
    await expect(answer).resolves.toStrictEqual({ status: 503, text: '{"error":"busy"}' });
  });

  it('leaves informational answers and their data out', async () => {
    const { answer } = post(({ handler, controller }) => {
      handler.onRequestStart?.(controller, {});
      handler.onResponseStart?.(controller, 103, { 'content-length': '999999999', link: '</x>' }, 'Early Hints');
      handler.onResponseData?.(controller, bytes('hint'));
      answers(200, ['cert'])({ handler, controller } as Exchange);
    }, { maxBytes: 10 });
    await expect(answer).resolves.toStrictEqual({ status: 200, text: 'cert' });
  });
});

describe('redirects are not followed', () => {
  it('settles a redirect with its location at once and gives the connection up', async () => {
    const { answer, exchange } = post(({ handler, controller }) => {
      handler.onRequestStart?.(controller, {});
      handler.onResponseStart?.(controller, 302, { Location: 'https://elsewhere.example/' }, 'Found');
      // Data that still arrives is not read: the exchange is over.
      handler.onResponseData?.(controller, bytes('x'.repeat(100)));
      handler.onResponseEnd?.(controller, {});
    }, { maxBytes: 10 });
    await expect(answer).resolves.toStrictEqual({ status: 302, text: '', location: 'https://elsewhere.example/' });
    expect(exchange.abort).toHaveBeenCalledTimes(1);
    expect((exchange.abort.mock.calls[0]?.[0] as Error).message).toBe('the certificate answer was not read to its end');
  });

  it('settles a redirect without a location with no location at all', async () => {
    const { answer } = post(({ handler, controller }) => {
      handler.onRequestStart?.(controller, {});
      handler.onResponseStart?.(controller, 307, {}, 'Temporary Redirect');
    });
    await expect(answer).resolves.toStrictEqual({ status: 307, text: '' });
  });
});

describe('size limits', () => {
  it('refuses a declared length over maxBytes before any data, naming both sizes', async () => {
    const { answer, exchange } = post(({ handler, controller }) => {
      handler.onRequestStart?.(controller, {});
      handler.onResponseStart?.(controller, 200, { 'Content-Length': '2000' }, 'OK');
    }, { maxBytes: 1000 });
    const error = await refusal(answer);
    expect(error.message).toContain('(2000 bytes) is larger than 1000 bytes (maxCertificateBytes)');
    expect(error.message).toContain('check the base URL');
    expect(exchange.abort).toHaveBeenCalledWith(error);
  });

  it('takes a declared length and a body of exactly maxBytes', async () => {
    const { answer } = post(answers(200, ['12345', '67890'], { 'content-length': '10' }), { maxBytes: 10 });
    await expect(answer).resolves.toStrictEqual({ status: 200, text: '1234567890' });
  });

  it('stops reading once undeclared data passes maxBytes, and only once', async () => {
    const { answer, exchange } = post(({ handler, controller }) => {
      handler.onRequestStart?.(controller, {});
      handler.onResponseStart?.(controller, 200, {}, 'OK');
      handler.onResponseData?.(controller, bytes('123456'));
      handler.onResponseData?.(controller, bytes('78901'));
      handler.onResponseData?.(controller, bytes('more'));
      handler.onResponseEnd?.(controller, {});
    }, { maxBytes: 10 });
    const error = await refusal(answer);
    expect(error.message).toContain("the certificate service's answer is larger than 10 bytes (maxCertificateBytes)");
    expect(exchange.abort).toHaveBeenCalledTimes(1);
    expect(exchange.abort).toHaveBeenCalledWith(error);
  });

  it('uses the default limit of 1 MiB when none is given', async () => {
    const { answer } = post(({ handler, controller }) => {
      handler.onRequestStart?.(controller, {});
      handler.onResponseStart?.(controller, 200, { 'content-length': String(1024 * 1024 + 1) }, 'OK');
    });
    expect((await refusal(answer)).message).toContain(`(${1024 * 1024 + 1} bytes) is larger than ${1024 * 1024} bytes`);
    const { answer: whole } = post(answers(200, ['x'.repeat(1024 * 1024)], { 'content-length': String(1024 * 1024) }));
    expect((await whole).text).toHaveLength(1024 * 1024);
  });
});

describe('aborts and failures', () => {
  it('rejects with the reason and sends nothing when the signal was aborted before', async () => {
    const dispatch = vi.fn(() => true);
    const signal = new AbortController();
    const reason = new Error('caller gave up');
    signal.abort(reason);
    const http = certificateHttpOverDispatch(dispatch as unknown as Dispatcher.Dispatch);
    await expect(http({ url: 'https://cert.example/', headers: {}, body: '', signal: signal.signal })).rejects.toBe(reason);
    expect(dispatch).not.toHaveBeenCalled();
  });

  it('aborts the exchange when the signal aborts mid-way', async () => {
    const reason = new Error('caller gave up');
    const { answer, exchange } = post(({ handler, controller, signal }) => {
      handler.onRequestStart?.(controller, {});
      handler.onResponseStart?.(controller, 200, {}, 'OK');
      signal.abort(reason);
      // undici reports an aborted exchange through onResponseError.
      handler.onResponseError?.(controller, reason);
    });
    await expect(answer).rejects.toBe(reason);
    expect(exchange.abort).toHaveBeenCalledWith(reason);
  });

  it('aborts at the start when the signal aborted before undici started the request', async () => {
    const reason = new Error('caller gave up');
    const { answer, exchange } = post(({ handler, controller, signal }) => {
      signal.abort(reason);
      handler.onRequestStart?.(controller, {});
      handler.onResponseError?.(controller, reason);
    });
    await expect(answer).rejects.toBe(reason);
    expect(exchange.abort).toHaveBeenCalledTimes(1);
    expect(exchange.abort).toHaveBeenCalledWith(reason);
  });

  it('stops listening to the signal once settled', async () => {
    const { answer, exchange } = post(answers(200, ['ok']));
    await answer;
    exchange.signal.abort(new Error('too late'));
    expect(exchange.abort).not.toHaveBeenCalled();
  });

  it('rejects with a response error and with an error thrown by dispatch', async () => {
    const failure = new Error('other side closed');
    const { answer } = post(({ handler, controller }) => {
      handler.onRequestStart?.(controller, {});
      handler.onResponseError?.(controller, failure);
    });
    await expect(answer).rejects.toBe(failure);
    const thrown = new Error('dispatcher is destroyed');
    const { answer: refused } = post(() => {
      throw thrown;
    });
    await expect(refused).rejects.toBe(thrown);
  });
});
