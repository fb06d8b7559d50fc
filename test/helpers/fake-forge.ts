import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: any;
}

export type Handler = (req: RecordedRequest) => { status: number; body?: unknown; headers?: Record<string, string> } | null;

export interface FakeForge {
  url: string;
  requests: RecordedRequest[];
  /** Answers the next `n` requests matching `path` with this status (injected failures, rate limits). */
  failNext(n: number, status: number, headers?: Record<string, string>): void;
  close(): Promise<void>;
}

/**
 * A local HTTP server standing in for a forge's API: records every request
 * and answers through the handlers (the first that answers wins); anything
 * unhandled is a 404, which the test sees as a request the forge would refuse.
 */
export async function startFakeForge(handlers: Handler[]): Promise<FakeForge> {
  const requests: RecordedRequest[] = [];
  let failures: { count: number; status: number; headers: Record<string, string> } = { count: 0, status: 500, headers: {} };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try { body = text ? JSON.parse(text) : null; } catch { /* a form or text body stays text */ }
      const recorded: RecordedRequest = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body };
      requests.push(recorded);
      if (req.method !== 'GET' && failures.count > 0) {
        failures.count--;
        res.writeHead(failures.status, { 'content-type': 'application/json', ...failures.headers });
        res.end(JSON.stringify({ message: 'injected failure' }));
        return;
      }
      for (const handler of handlers) {
        const answer = handler(recorded);
        if (!answer) continue;
        res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
        res.end(answer.body === undefined ? '' : JSON.stringify(answer.body));
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: `no such endpoint: ${req.method} ${url.pathname}` }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    requests,
    failNext(n, status, headers = {}) { failures = { count: n, status, headers }; },
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
