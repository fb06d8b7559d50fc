import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forgelineCli } from './helpers/cli.ts';
import { startFakeGitHub, type FakeGitHub } from './helpers/fake-github.ts';
import { startForgeline, waitFor, type TestForgeline } from './helpers/forgeline.ts';
import { createTestRepo, type TestRepo } from './helpers/git-repo.ts';
import { pushPayload, sendGitHubHook } from './helpers/github-webhook.ts';

const PIPELINE = `name: ci
on:
  push:
    branches: [main]
stages:
  build:
    steps:
      - run: echo "building $FORGELINE_REPO at $FORGELINE_SHA"
      - name: compile
        run: echo compiled > out.txt && cat out.txt
  test:
    needs: [build]
    steps:
      - run: echo "testing on $FORGELINE_BRANCH" && test "$CI" = true
`;

describe('a GitHub push, end to end', () => {
  let forgeline: TestForgeline;
  let github: FakeGitHub;
  let repo: TestRepo;
  let registered: { id: string; hookUrl: string; secret: string };

  beforeAll(async () => {
    [forgeline, github, repo] = await Promise.all([startForgeline(), startFakeGitHub(), createTestRepo()]);
    const cli = await forgelineCli(
      ['repo', 'add', '--forge', 'github', '--name', 'acme/widget', '--clone-url', repo.cloneUrl,
        '--api-url', github.apiUrl, '--token-env', 'GH_TOKEN', '--json'],
      { ...forgeline.clientEnv, GH_TOKEN: 'ghp_testtoken' });
    expect(cli.stderr).toBe('');
    expect(cli.exitCode).toBe(0);
    registered = JSON.parse(cli.stdout);
  });

  afterAll(async () => {
    await forgeline?.stop();
    await github?.close();
  });

  it('verifies, plans, runs both stages and posts pending → success statuses', async () => {
    const sha = await repo.commit({ '.forgeline/ci.yml': PIPELINE, 'README.md': 'hello' }, 'add pipeline');
    const hookUrl = registered.hookUrl.replace('http://forgeline.test', forgeline.url);
    const payload = pushPayload({ name: 'acme/widget', cloneUrl: 'https://github.com/acme/widget.git' }, sha);

    const first = await sendGitHubHook(hookUrl, registered.secret, 'push', payload);
    expect(first.status).toBe(202);
    expect(first.body).toEqual({ delivery: expect.any(String), status: 'accepted' });

    const runId = await waitFor(async () => {
      const res = await fetch(`${forgeline.url}/api/deliveries/${first.body.delivery}`);
      const delivery = await res.json() as { runs: number[] };
      return delivery.runs[0];
    }, 'the run to be planned');
    const run = await waitFor(async () => {
      const r = await (await fetch(`${forgeline.url}/api/runs/${runId}`)).json() as any;
      return ['success', 'failure'].includes(r.status) ? r : undefined;
    }, 'the run to finish');
    expect(run.status).toBe('success');
    expect(run.sha).toBe(sha);
    expect(run.stages.map((s: any) => [s.name, s.status])).toEqual([['build', 'success'], ['test', 'success']]);

    // The final report is posted after the run is marked done: wait for it.
    await waitFor(async () => (github.statuses.some((s) => s.context === 'forgeline/ci/push' && s.state === 'success') ? true : undefined), 'the run status');
    expect(github.violations).toEqual([]);
    // A report reads the state when it runs, so a late one may skip straight to the end;
    // what must hold is that something was pending first and nothing goes back.
    expect(github.statuses[0]!.state).toBe('pending');
    for (const context of ['forgeline/ci/push', 'forgeline/ci/push/build', 'forgeline/ci/push/test']) {
      const states = github.statuses.filter((s) => s.context === context).map((s) => s.state);
      expect(['pending', 'success'], context).toContain(states[0]);
      expect(states.at(-1), context).toBe('success');
      // Never back to pending once it succeeded.
      expect(states.slice(states.indexOf('success')).every((s) => s === 'success'), context).toBe(true);
    }
    // Reported by the processes that changed the state, after their transactions: no report job was needed.
    const jobs = await forgeline.runtime.db.pool.query(`SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'report' AND data->>'runId' = $1`, [String(runId)]);
    expect(jobs.rows[0].n).toBe(0);
    const last = github.statuses.findLast((s) => s.context === 'forgeline/ci/push/build')!;
    expect(last).toMatchObject({ owner: 'acme', repo: 'widget', sha, target_url: `http://forgeline.test/runs/${runId}#build` });
    expect(last.authorization).toMatch(/ghp_testtoken/);

    const buildLog = await (await fetch(`${forgeline.url}/api/runs/${runId}/stages/build/log`)).text();
    expect(buildLog).toContain(`building acme/widget at ${sha}`);
    expect(buildLog).toContain('compiled');
    const testLog = await (await fetch(`${forgeline.url}/api/runs/${runId}/stages/test/log`)).text();
    expect(testLog).toContain('testing on main');

    // The same delivery again: a duplicate, no second run.
    const again = await sendGitHubHook(hookUrl, registered.secret, 'push', payload, first.deliveryId);
    expect(again.status).toBe(200);
    expect(again.body.status).toBe('duplicate');
    const runs = await forgeline.runtime.db.pool.query('SELECT count(*)::int AS n FROM runs');
    expect(runs.rows[0].n).toBe(1);
  });

  it('refuses a wrong signature with 401 and audits it', async () => {
    const hookUrl = registered.hookUrl.replace('http://forgeline.test', forgeline.url);
    const res = await sendGitHubHook(hookUrl, 'not-the-secret', 'push', pushPayload({ name: 'acme/widget', cloneUrl: repo.cloneUrl }, 'a'.repeat(40)));
    expect(res.status).toBe(401);
    expect(JSON.stringify(res.body)).not.toContain(registered.secret);
    const audit = await forgeline.runtime.db.pool.query(`SELECT action, reason FROM audit_log WHERE action = 'hook.refused.401'`);
    expect(audit.rows).toEqual([{ action: 'hook.refused.401', reason: 'missing or invalid signature' }]);
    const stored = await forgeline.runtime.db.pool.query('SELECT count(*)::int AS n FROM deliveries WHERE forge_delivery_id = $1', [res.deliveryId]);
    expect(stored.rows[0].n).toBe(0);
  });
});
