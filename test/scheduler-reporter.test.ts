import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerRepo } from '../ingest/index.ts';
import { createReporter } from '../scheduler/reporter.ts';
import { createSession, type Session } from '../store/index.ts';
import { startFakeGitHub, type FakeGitHub } from './helpers/fake-github.ts';
import { startForgeline, waitFor, type TestForgeline } from './helpers/forgeline.ts';
import { createTestRepo, type TestRepo } from './helpers/git-repo.ts';
import { pushPayload, sendGitHubHook } from './helpers/github-webhook.ts';

// The reporter of scheduler/reporter.ts: a process reports the runs its own
// transactions changed; what it cannot report goes as a report job.
describe('status reports from the process that changed the state', () => {
  let forgeline: TestForgeline;
  let github: FakeGitHub;
  let repo: TestRepo;
  let other: Session;
  let runId: number;

  const reportJobs = async () => (await forgeline.runtime.db.pool.query(
    `SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'report' AND data->>'runId' = $1`, [String(runId)])).rows[0].n as number;
  /** Forgets what was posted for the run, on both sides, so that a report posts every context again. */
  const forget = async () => {
    await forgeline.runtime.db.pool.query('DELETE FROM status_reports WHERE run_id = $1', [runId]);
    github.statuses.length = 0;
  };

  beforeAll(async () => {
    [forgeline, github, repo] = await Promise.all([startForgeline({ workers: 1 }), startFakeGitHub(), createTestRepo()]);
    other = createSession(forgeline.config.databaseUrl!);
    const hook = await registerRepo(
      { pool: forgeline.runtime.db.pool, box: forgeline.runtime.deps.box, publicUrl: forgeline.url, urls: forgeline.config.urls },
      { forge: 'github', name: 'acme/reporter', cloneUrl: repo.cloneUrl, apiUrl: github.apiUrl, token: 't' }, 'test');
    const sha = await repo.commit({ '.forgeline/ci.yml': 'on: { push: {} }\nstages:\n  a: { steps: [{ run: "true" }] }\n' });
    await sendGitHubHook(hook.hookUrl, hook.secret, 'push', pushPayload({ name: 'acme/reporter', cloneUrl: repo.cloneUrl }, sha));
    await waitFor(async () => (github.statuses.some((s) => s.context === 'forgeline/ci/push' && s.state === 'success') ? true : undefined), 'the run reported');
    runId = Number((await forgeline.runtime.db.pool.query('SELECT id FROM runs WHERE sha = $1', [sha])).rows[0].id);
  }, 60_000);
  afterAll(async () => {
    await other?.close();
    await forgeline?.stop();
    await github?.close();
  });

  it('reports a run without a report job when nothing is in the way', async () => {
    expect(await reportJobs()).toBe(0);
    await forget();
    const reporter = createReporter(forgeline.runtime.deps, { concurrency: 2 });
    reporter.due(runId);
    // Stopping waits for the report under way.
    await reporter.stop();
    expect(github.statuses.map((s) => `${s.context}=${s.state}`).sort()).toEqual(['forgeline/ci/push/a=success', 'forgeline/ci/push=success']);
    expect(await reportJobs()).toBe(0);
  });

  it('leaves a run another process is reporting to a report job, which reports it once that one is done', async () => {
    await forget();
    // Another process holds the run's report lock (it may have read an older state).
    await waitFor(async () => ((await other.tryLock(`forgeline-report:${runId}`)) ? true : undefined), 'the report lock');
    const reporter = createReporter(forgeline.runtime.deps, { concurrency: 2 });
    reporter.due(runId);
    await reporter.stop();
    expect(github.statuses).toEqual([]);
    expect(await reportJobs()).toBe(1);
    // The job is retried until the lock is free, then posts the newest state.
    await other.unlock(`forgeline-report:${runId}`);
    await waitFor(async () => (github.statuses.some((s) => s.context === 'forgeline/ci/push' && s.state === 'success') ? true : undefined), 'the report job to post', 30_000);
    expect(github.violations).toEqual([]);
  }, 40_000);

  it('sends a report job for a run due after it stopped', async () => {
    const before = await reportJobs();
    const reporter = createReporter(forgeline.runtime.deps, { concurrency: 2 });
    await reporter.stop();
    reporter.due(runId);
    await waitFor(async () => ((await reportJobs()) > before ? true : undefined), 'the report job');
  });
});
