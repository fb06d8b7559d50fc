import { createHmac, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recoverMissed, registerRepo } from '../ingest/index.ts';
import { forgelineCli } from './helpers/cli.ts';
import { startFakeForge, type FakeForge } from './helpers/fake-forge.ts';
import { startFakeGitHub, type FakeGitHub } from './helpers/fake-github.ts';
import { startForgeline, waitFor, type TestForgeline } from './helpers/forgeline.ts';
import { createTestRepo, type TestRepo } from './helpers/git-repo.ts';
import { pushPayload, sendGitHubHook } from './helpers/github-webhook.ts';

describe('status reports when the forge fails and rate-limits', () => {
  let forgeline: TestForgeline;
  let github: FakeGitHub;
  let repo: TestRepo;

  beforeAll(async () => {
    [forgeline, github, repo] = await Promise.all([startForgeline({ workers: 2 }), startFakeGitHub(), createTestRepo()]);
  });
  afterAll(async () => {
    await forgeline?.stop();
    await github?.close();
  });

  it('ends every context on its newest state, never an older one after a newer', async () => {
    const hook = await registerRepo(
      { pool: forgeline.runtime.db.pool, box: forgeline.runtime.deps.box, publicUrl: forgeline.url, urls: forgeline.config.urls },
      { forge: 'github', name: 'acme/flaky-forge', cloneUrl: repo.cloneUrl, apiUrl: github.apiUrl, token: 't' }, 'test');
    const sha = await repo.commit({ '.forgeline/ci.yml': 'on: { push: {} }\nstages:\n  a: { steps: [{ run: "true" }] }\n  b:\n    needs: [a]\n    steps: [{ run: "exit 1" }]\n' });
    // The forge fails and rate-limits the first reports: they are retried with backoff.
    github.failNext(4, 500);
    await sendGitHubHook(hook.hookUrl, hook.secret, 'push', pushPayload({ name: 'acme/flaky-forge', cloneUrl: repo.cloneUrl }, sha));
    await new Promise((r) => setTimeout(r, 300));
    // A rate limit with Retry-After: the report comes back after it, not sooner.
    github.failNext(2, 429, { 'retry-after': '1' });
    await waitFor(async () => (github.statuses.some((s) => s.context === 'forgeline/ci/push' && s.state === 'failure') ? true : undefined), 'the final run status', 60_000);
    const final: Record<string, string> = { 'forgeline/ci/push': 'failure', 'forgeline/ci/push/a': 'success', 'forgeline/ci/push/b': 'failure' };
    for (const [context, state] of Object.entries(final)) {
      const states = github.statuses.filter((s) => s.context === context).map((s) => s.state);
      expect(states.at(-1), context).toBe(state);
      // Once final, never pending again.
      const firstFinal = states.findIndex((s) => s !== 'pending');
      expect(states.slice(firstFinal).every((s) => s === state), `${context}: ${states.join(' → ')}`).toBe(true);
    }
    expect(github.violations).toEqual([]);
  }, 90_000);
});

describe('a final status whose report jobs all failed', () => {
  let forgeline: TestForgeline;
  let github: FakeGitHub;
  let repo: TestRepo;

  beforeAll(async () => {
    // A short heartbeat: the monitor pass runs every half second and resends reports due for 2 s.
    [forgeline, github, repo] = await Promise.all([startForgeline({ workers: 1, env: { FORGELINE_HEARTBEAT_SECONDS: '1' } }), startFakeGitHub(), createTestRepo()]);
  });
  afterAll(async () => {
    await forgeline?.stop();
    await github?.close();
  });

  it('reaches the forge once it is back: the monitor pass sends the overdue report again', async () => {
    const pool = forgeline.runtime.db.pool;
    const hook = await registerRepo(
      { pool, box: forgeline.runtime.deps.box, publicUrl: forgeline.url, urls: forgeline.config.urls },
      { forge: 'github', name: 'acme/forge-down', cloneUrl: repo.cloneUrl, apiUrl: github.apiUrl, token: 't' }, 'test');
    const sha = await repo.commit({ '.forgeline/ci.yml': 'on: { push: {} }\nstages:\n  a: { steps: [{ run: "true" }] }\n' });
    github.failNext(1_000_000, 500);
    await sendGitHubHook(hook.hookUrl, hook.secret, 'push', pushPayload({ name: 'acme/forge-down', cloneUrl: repo.cloneUrl }, sha));
    const runId = await waitFor(async () => (await pool.query(`SELECT id FROM runs WHERE sha = $1 AND status = 'success'`, [sha])).rows[0]?.id, 'the run to finish');
    // As if every retry had failed (or the process holding the job died): no report job is left to run.
    await waitFor(async () => {
      await pool.query(`UPDATE pgboss.job SET state = 'failed' WHERE name = 'report' AND state < 'active'`);
      const { rows } = await pool.query(`SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'report' AND state <= 'active'`);
      return rows[0].n === 0 ? true : undefined;
    }, 'the report jobs to fail');
    expect(github.statuses.some((s) => s.state === 'success')).toBe(false);
    expect((await pool.query('SELECT report_due FROM runs WHERE id = $1', [runId])).rows[0].report_due).not.toBeNull();

    github.failNext(0, 500);
    await waitFor(async () => (github.statuses.some((s) => s.context === 'forgeline/ci/push' && s.state === 'success') ? true : undefined), 'the final status', 20_000);
    expect(github.statuses.filter((s) => s.context === 'forgeline/ci/push/a').at(-1)?.state).toBe('success');
    // Reported: nothing is due any more, so the pass stops sending it.
    await waitFor(async () => ((await pool.query('SELECT report_due FROM runs WHERE id = $1', [runId])).rows[0].report_due === null ? true : undefined), 'the report to settle');
    expect(github.violations).toEqual([]);
  }, 60_000);
});

describe('forge integration: registration and missed deliveries', () => {
  let forgeline: TestForgeline;
  let fake: FakeForge;
  let repo: TestRepo;
  const hooks: any[] = [];
  const deliveries: any[] = [];
  let branchHead: string | null = null;

  beforeAll(async () => {
    [forgeline, repo] = await Promise.all([startForgeline({ workers: 2 }), createTestRepo()]);
    fake = await startFakeForge([
      (r) => (r.method === 'GET' && r.path === '/api/v3/repos/acme/registered/hooks' ? { status: 200, body: hooks } : null),
      (r) => {
        if (r.method !== 'POST' || r.path !== '/api/v3/repos/acme/registered/hooks') return null;
        hooks.push({ id: 42, ...r.body });
        return { status: 201, body: { id: 42, ...r.body } };
      },
      (r) => (r.method === 'GET' && r.path === '/api/v3/repos/acme/registered/hooks/42/deliveries' ? { status: 200, body: deliveries } : null),
      (r) => (r.method === 'POST' && /^\/api\/v3\/repos\/acme\/registered\/hooks\/42\/deliveries\/\d+\/attempts$/.test(r.path) ? { status: 202, body: {} } : null),
      (r) => (r.method === 'GET' && r.path === '/api/v1/repos/owner/quiet/branches'
        ? { status: 200, body: branchHead ? [{ name: 'main', commit: { id: branchHead } }] : [], headers: { 'x-total-count': branchHead ? '1' : '0' } }
        : null),
      (r) => (r.method === 'POST' && /statuses/.test(r.path) ? { status: 201, body: {} } : null),
    ]);
  });
  afterAll(async () => {
    await forgeline?.stop();
    await fake?.close();
  });

  it('creates the webhook on the forge with `repo add --register`', async () => {
    const cli = await forgelineCli(['repo', 'add', '--forge', 'github', '--name', 'acme/registered', '--clone-url', repo.cloneUrl,
      '--api-url', `${fake.url}/api/v3`, '--token-env', 'GH_TOKEN', '--register'], { ...forgeline.clientEnv, GH_TOKEN: 'admin-token' });
    expect(cli.stderr).toBe('');
    const registered = JSON.parse(cli.stdout);
    expect(registered.remoteHook).toEqual({ id: '42', created: true });
    expect(hooks).toEqual([expect.objectContaining({ active: true, events: ['push', 'pull_request'], config: expect.objectContaining({ url: registered.hookUrl, secret: registered.secret, content_type: 'json' }) })]);
  });

  it('asks GitHub to redeliver what failed or never arrived, not what arrived', async () => {
    const now = Date.now();
    const at = (minutesAgo: number) => new Date(now - minutesAgo * 60_000).toISOString();
    const arrived = randomUUID();
    // One delivery reached us (it is stored), one failed, one GitHub thinks arrived but we never stored.
    const sha = await repo.commit({ 'a.txt': '1' });
    const { rows: [r] } = await forgeline.runtime.db.pool.query(`SELECT id, hook_id FROM repos WHERE name = 'acme/registered'`);
    const secret = JSON.parse((await forgelineCli(['repo', 'rotate-secret', 'acme/registered'], forgeline.clientEnv)).stdout).secret;
    await sendGitHubHook(`${forgeline.url}/hooks/${r.hook_id}`, secret, 'push', pushPayload({ name: 'acme/registered', cloneUrl: repo.cloneUrl }, sha), arrived);
    deliveries.push(
      { id: 1, guid: arrived, delivered_at: at(3), status_code: 202, status: 'OK', event: 'push' },
      { id: 2, guid: 'failed-guid', delivered_at: at(2), status_code: 503, status: 'Service Unavailable', event: 'push' },
      { id: 3, guid: 'lost-guid', delivered_at: at(1), status_code: 202, status: 'OK', event: 'push' },
      { id: 4, guid: 'old-guid', delivered_at: at(600), status_code: 500, status: 'error', event: 'push' },
    );
    const result = (await recoverMissed(forgeline.runtime.deps)).find((x) => x.repo === 'acme/registered')!;
    expect(result.redelivered.sort()).toEqual(['failed-guid', 'lost-guid']);
    expect(fake.requests.filter((q) => q.path.endsWith('/attempts')).map((q) => q.path.split('/').at(-2)).sort()).toEqual(['2', '3']);
  });

  it('raises a push for a branch head that moved without a delivery, built once', async () => {
    const quiet = await createTestRepo();
    const hook = await registerRepo(
      { pool: forgeline.runtime.db.pool, box: forgeline.runtime.deps.box, publicUrl: forgeline.url, urls: forgeline.config.urls },
      { forge: 'gitea', name: 'owner/quiet', cloneUrl: quiet.cloneUrl, apiUrl: fake.url, token: 'gitea-token' }, 'test');
    const first = await quiet.commit({ '.forgeline/ci.yml': 'on: { push: {} }\nstages:\n  s: { steps: [{ run: "echo built $FORGELINE_SHA" }] }\n' });
    // Gitea delivered the first push; the second one it never sent.
    const body = JSON.stringify({ ref: 'refs/heads/main', before: '0'.repeat(40), after: first, head_commit: { id: first, message: 'first' }, repository: { full_name: 'owner/quiet' }, sender: { login: 'dev' } });
    const sent = await fetch(hook.hookUrl, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-gitea-event': 'push', 'x-gitea-delivery': randomUUID(), 'x-gitea-signature': createHmac('sha256', hook.secret).update(body).digest('hex') } });
    expect(sent.status).toBe(202);
    const second = await quiet.commit({ 'b.txt': '2' }, 'pushed while the hook was down');
    branchHead = second;
    const result = (await recoverMissed(forgeline.runtime.deps)).find((x) => x.repo === 'owner/quiet')!;
    expect(result.raised).toEqual(['main']);
    const runOf = async (sha: string) => waitFor(async () => {
      const { rows } = await forgeline.runtime.db.pool.query(`SELECT id, status FROM runs WHERE sha = $1`, [sha]);
      return rows[0] && ['success', 'failure'].includes(rows[0].status) ? rows : undefined;
    }, `the run of ${sha}`);
    expect((await runOf(second)).length).toBe(1);
    // The late real delivery of that push is a duplicate; a second pass raises nothing.
    const late = JSON.stringify({ ref: 'refs/heads/main', before: first, after: second, head_commit: { id: second, message: 'late' }, repository: { full_name: 'owner/quiet' } });
    const again = await fetch(hook.hookUrl, { method: 'POST', body: late, headers: { 'content-type': 'application/json', 'x-gitea-event': 'push', 'x-gitea-delivery': randomUUID(), 'x-gitea-signature': createHmac('sha256', hook.secret).update(late).digest('hex') } });
    expect((await again.json() as { status: string }).status).toBe('duplicate');
    expect((await recoverMissed(forgeline.runtime.deps)).find((x) => x.repo === 'owner/quiet')!.raised).toEqual([]);
  });
});
