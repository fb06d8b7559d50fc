import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerRepo } from '../ingest/index.ts';
import { startFakeGitHub, type FakeGitHub } from './helpers/fake-github.ts';
import { startForgeline, waitFor, type TestForgeline } from './helpers/forgeline.ts';
import { createTestRepo, type TestRepo } from './helpers/git-repo.ts';
import { pushPayload, sendGitHubHook } from './helpers/github-webhook.ts';

// A file of its own: a schedule due every minute would start runs in the middle of other tests.
describe('schedules through pg-boss', () => {
  let forgeline: TestForgeline;
  let github: FakeGitHub;
  let repo: TestRepo;

  beforeAll(async () => {
    // pg-boss looks for due schedules every second here (5 s by default).
    [forgeline, github, repo] = await Promise.all([startForgeline({ workers: 1, env: { FORGELINE_SCHEDULE_CHECK_SECONDS: '1' } }), startFakeGitHub(), createTestRepo()]);
  });
  afterAll(async () => {
    await forgeline?.stop();
    await github?.close();
  });

  it('runs an on.schedule pipeline when pg-boss finds it due, on the default branch\'s head, once for its minute', async () => {
    const hook = await registerRepo(
      { pool: forgeline.runtime.db.pool, box: forgeline.runtime.deps.box, publicUrl: forgeline.url, urls: forgeline.config.urls },
      { forge: 'github', name: 'acme/cron', cloneUrl: repo.cloneUrl, apiUrl: github.apiUrl }, 'test');
    const sha = await repo.commit({ '.forgeline/tick.yml': 'name: tick\non:\n  schedule: [{ cron: "* * * * *" }]\nstages:\n  s: { steps: [{ run: "echo tick on $FORGELINE_BRANCH at $FORGELINE_SHA" }] }\n' }, 'every minute', 'main');
    const res = await sendGitHubHook(hook.hookUrl, hook.secret, 'push', pushPayload({ name: 'acme/cron', cloneUrl: repo.cloneUrl }, sha));
    expect(res.status).toBe(202);
    const api = async (path: string) => (await fetch(`${forgeline.url}/api${path}`)).json() as Promise<any>;
    // Nothing calls the schedule's handler here: pg-boss's own pass sends the job for the minute under way.
    const first = await waitFor(async () => (await api('/runs?repo=acme/cron')).items.find((r: any) => r.pipeline === 'tick'), 'a scheduled run', 20_000);
    const run = await waitFor(async () => {
      const r = await api(`/runs/${first.id}`);
      return ['success', 'failure'].includes(r.status) ? r : undefined;
    }, 'the scheduled run to finish');
    expect(run).toMatchObject({ pipeline: 'tick', status: 'success', sha, event: { kind: 'schedule', branch: 'main', ref: 'refs/heads/main' } });
    expect(await (await fetch(`${forgeline.url}/api/runs/${run.id}/stages/s/log`)).text()).toContain(`tick on main at ${sha}`);
    await waitFor(async () => (github.statuses.some((s) => s.context === 'forgeline/tick/schedule' && s.sha === sha && s.state === 'success') ? true : undefined), 'the schedule status');
    // Several passes later: one run a minute, however often pg-boss looked (one a pass would be four or more by now;
    // one more is allowed for a minute's run planned just after the next minute began).
    await new Promise((r) => setTimeout(r, 3000));
    const ticks = (await api('/runs?repo=acme/cron')).items.filter((r: any) => r.pipeline === 'tick');
    const minutesSpanned = Math.floor(Date.now() / 60_000) - Math.floor(Date.parse(first.createdAt) / 60_000) + 1;
    expect(ticks.length).toBeLessThanOrEqual(minutesSpanned + 1);
  }, 60_000);
});
