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

export interface CheckRunCall {
  method: 'POST' | 'PATCH';
  id: number;
  name: string;
  status: string;
  conclusion: string | null;
  text: string | null;
  authorization: string | null;
}

export interface FakeGitHub {
  /** GitHub App mode: every check run create and update, in order. */
  checks: CheckRunCall[];
  /** The GitHub Enterprise style API base: http://127.0.0.1:PORT/api/v3 */
  apiUrl: string;
  statuses: PostedStatus[];
  /** Requests that did not match GitHub's OpenAPI description; a test expects none. */
  violations: string[];
  /** Answers the next `n` status posts with this HTTP status (injected failures). */
  failNext(n: number, status: number, headers?: Record<string, string>): void;
  close(): Promise<void>;
}

let sharedCheck: OpenApiCheck | undefined;

/** A local server that answers like GitHub's commit status API and checks every request against its OpenAPI description. */
export async function startFakeGitHub(): Promise<FakeGitHub> {
  sharedCheck ??= new OpenApiCheck();
  const check = sharedCheck;
  const statuses: PostedStatus[] = [];
  const checks: CheckRunCall[] = [];
  let nextCheck = 1000;
  const violations: string[] = [];
  let failures: { count: number; status: number; headers?: Record<string, string> } = { count: 0, status: 500 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
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
        const authorization = req.headers.authorization ?? null;
        // GitHub App mode: the installation, its token, and check runs.
        if (checked.route === 'GET /repos/{owner}/{repo}/installation') {
          if (!authorization?.startsWith('bearer ') && !authorization?.startsWith('Bearer ')) throw new Error('an installation lookup needs the App\'s JWT');
          return answer(200, { id: 99, app_id: 1, account: { login: checked.params.owner }, target_type: 'Organization' });
        }
        if (checked.route === 'POST /app/installations/{installation_id}/access_tokens') {
          return answer(201, { token: 'ghs_installationtoken', expires_at: new Date(Date.now() + 3600_000).toISOString() });
        }
        if (checked.route === 'POST /repos/{owner}/{repo}/check-runs' || checked.route === 'PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}') {
          const id = req.method === 'POST' ? nextCheck++ : Number(checked.params.check_run_id);
          checks.push({ method: req.method as 'POST', id, name: body.name, status: body.status, conclusion: body.conclusion ?? null, text: body.output?.text ?? null, authorization });
          return answer(req.method === 'POST' ? 201 : 200, { id, name: body.name, status: body.status });
        }
        if (checked.route !== 'POST /repos/{owner}/{repo}/statuses/{sha}') throw new Error(`unexpected call ${checked.route}`);
        if (!/^[0-9a-f]{40}$/.test(checked.params.sha!)) throw new Error(`sha ${checked.params.sha} is not a full commit id`);
        if (failures.count > 0) {
          failures.count--;
          return answer(failures.status, { message: 'injected failure' }, failures.headers);
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
    checks,
    violations,
    failNext(n, status, headers) { failures = { count: n, status, headers }; },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
