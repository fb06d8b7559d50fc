import { createServer, type Server } from 'node:http';
import { OpenApiCheck } from './openapi-check.ts';

export interface PostedStatus {
  owner: string;
  repo: string;
  sha: string;
  state: string;
  context: string;
  description: string | null;
  target_url: string | null;
  authorization: string | null;
}

export interface FakeGitHub {
  /** The GitHub Enterprise style API base: http://127.0.0.1:PORT/api/v3 */
  apiUrl: string;
  statuses: PostedStatus[];
  /** Requests that did not match GitHub's OpenAPI description; a test expects none. */
  violations: string[];
  /** Answers the next `n` status posts with this HTTP status (injected failures). */
  failNext(n: number, status: number): void;
  close(): Promise<void>;
}

let sharedCheck: OpenApiCheck | undefined;

/** A local server that answers like GitHub's commit status API and checks every request against its OpenAPI description. */
export async function startFakeGitHub(): Promise<FakeGitHub> {
  sharedCheck ??= new OpenApiCheck();
  const check = sharedCheck;
  const statuses: PostedStatus[] = [];
  const violations: string[] = [];
  let failures: { count: number; status: number } = { count: 0, status: 500 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const answer = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (!url.pathname.startsWith('/api/v3/')) {
        violations.push(`${req.method} ${url.pathname}: not under the /api/v3 base`);
        return answer(404, { message: 'Not Found' });
      }
      let body: any = null;
      try {
        body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : null;
        const checked = check.check(req.method ?? 'GET', url.pathname.slice('/api/v3'.length), body);
        if (checked.route !== 'POST /repos/{owner}/{repo}/statuses/{sha}') throw new Error(`unexpected call ${checked.route}`);
        if (!/^[0-9a-f]{40}$/.test(checked.params.sha!)) throw new Error(`sha ${checked.params.sha} is not a full commit id`);
        if (failures.count > 0) {
          failures.count--;
          return answer(failures.status, { message: 'injected failure' });
        }
        statuses.push({
          owner: checked.params.owner!, repo: checked.params.repo!, sha: checked.params.sha!,
          state: body.state, context: body.context, description: body.description ?? null, target_url: body.target_url ?? null,
          authorization: req.headers.authorization ?? null,
        });
        answer(201, { id: statuses.length, state: body.state, context: body.context, description: body.description, target_url: body.target_url });
      } catch (err) {
        violations.push((err as Error).message);
        answer(422, { message: (err as Error).message });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    apiUrl: `http://127.0.0.1:${port}/api/v3`,
    statuses,
    violations,
    failNext(n, status) { failures = { count: n, status }; },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
