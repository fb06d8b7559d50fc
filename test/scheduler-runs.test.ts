import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerRepo } from '../ingest/index.ts';
import { startFakeGitHub, type FakeGitHub } from './helpers/fake-github.ts';
import { startForgeline, waitFor, type TestForgeline } from './helpers/forgeline.ts';
import { createTestRepo, type TestRepo } from './helpers/git-repo.ts';
import { pushPayload, sendGitHubHook } from './helpers/github-webhook.ts';

async function finishedRun(forgeline: TestForgeline, deliveryId: string): Promise<any> {
  const runId = await waitFor(async () => {
    const d = await (await fetch(`${forgeline.url}/api/deliveries/${deliveryId}`)).json() as { runs: number[] };
    return d.runs[0];
  }, 'a run');
  return waitFor(async () => {
    const r = await (await fetch(`${forgeline.url}/api/runs/${runId}`)).json() as any;
    return ['success', 'failure', 'canceled'].includes(r.status) ? r : undefined;
  }, 'the run to finish', 40_000);
}

describe('runs', () => {
  let forgeline: TestForgeline;
  let github: FakeGitHub;
  let repo: TestRepo;
  let hook: { hookUrl: string; secret: string };

  beforeAll(async () => {
    // One stage at a time and a backstop poll far longer than the test's
    // patience: only NOTIFY and the wake after each job can start stages.
    [forgeline, github, repo] = await Promise.all([startForgeline({ workers: 1, backstopPollSeconds: 120 }), startFakeGitHub(), createTestRepo()]);
    const registered = await registerRepo(
      { pool: forgeline.runtime.db.pool, box: forgeline.runtime.deps.box, publicUrl: forgeline.url, urls: forgeline.config.urls },
      { forge: 'github', name: 'acme/runs', cloneUrl: repo.cloneUrl, apiUrl: github.apiUrl }, 'test');
    hook = registered;
  });

  afterAll(async () => {
    await forgeline?.stop();
    await github?.close();
  });

  it('starts a burst of ready stages one after another without waiting for the poll', async () => {
    const stages = ['a', 'b', 'c', 'd'].map((n) => `  ${n}:\n    steps: [{ run: "echo ${n}" }]\n`).join('');
    const sha = await repo.commit({ '.forgeline/burst.yml': `on: { push: {} }\nstages:\n${stages}` });
    const res = await sendGitHubHook(hook.hookUrl, hook.secret, 'push', pushPayload({ name: 'acme/runs', cloneUrl: repo.cloneUrl }, sha));
    expect(res.status).toBe(202);
    // Four stage jobs sent in one transaction, one NOTIFY, one worker slot:
    // without the wake after each job, stage two would wait 120 s.
    const run = await finishedRun(forgeline, res.body.delivery);
    expect(run.stages.map((s: any) => s.status)).toEqual(['success', 'success', 'success', 'success']);
  }, 40_000);

  it('fails a stage on a failing step, skips its dependents, and reports failure', async () => {
    const sha = await repo.commit({
      '.forgeline/burst.yml': 'on: { push: { branches: [nothing] } }\nstages:\n  x:\n    steps: [{ run: "true" }]\n',
      '.forgeline/ci.yml': `on: { push: { branches: [main] } }
stages:
  build:
    steps:
      - run: echo before
      - run: exit 3
      - run: echo never
  test:
    needs: [build]
    steps: [{ run: echo testing }]
  deploy:
    needs: [test]
    steps: [{ run: echo deploying }]
  lint:
    steps: [{ run: echo linted }]
`,
    });
    const res = await sendGitHubHook(hook.hookUrl, hook.secret, 'push', pushPayload({ name: 'acme/runs', cloneUrl: repo.cloneUrl }, sha));
    const run = await finishedRun(forgeline, res.body.delivery);
    expect(run.pipeline).toBe('ci');
    expect(run.status).toBe('failure');
    const byName = Object.fromEntries(run.stages.map((s: any) => [s.name, s]));
    expect(byName.build).toMatchObject({ status: 'failure', reason: 'step 2: exited with 3' });
    expect(byName.test).toMatchObject({ status: 'skipped', reason: "needs 'build', which ended failure" });
    expect(byName.deploy).toMatchObject({ status: 'skipped', reason: "needs 'test', which ended skipped" });
    expect(byName.lint.status).toBe('success');
    const log = await (await fetch(`${forgeline.url}/api/runs/${run.id}/stages/build/log`)).text();
    expect(log).toContain('before');
    expect(log).not.toContain('never');

    await waitFor(async () => (github.statuses.some((s) => s.context === 'forgeline/ci/push' && s.state === 'failure') ? true : undefined), 'the failure status');
    const last = (context: string) => github.statuses.filter((s) => s.context === context && s.sha === sha).at(-1);
    expect(last('forgeline/ci/push/build')?.state).toBe('failure');
    expect(last('forgeline/ci/push/test')).toMatchObject({ state: 'success', description: expect.stringMatching(/^skipped: /) });
    expect(last('forgeline/ci/push')?.description).toContain('stage build');

    // The pipeline whose branch filter rejected the push left its reason on the delivery.
    const delivery = await (await fetch(`${forgeline.url}/api/deliveries/${res.body.delivery}`)).json() as any;
    const burst = delivery.explain[0].pipelines.find((p: any) => p.name === 'burst');
    expect(burst).toMatchObject({ triggered: false, reason: "on.push.branches: 'main' matches none of [nothing]" });
    expect(github.violations).toEqual([]);
  });

  it('gives steps the clean environment of docs/pipelines.md, "What a step gets" and nothing of the worker', async () => {
    process.env.FORGELINE_TEST_WORKER_SECRET = 'worker-only-value';
    const sha = await repo.commit({
      '.forgeline/ci.yml': 'on: { push: {} }\nstages:\n  env:\n    steps: [{ run: "env | sort" }]\n',
      '.forgeline/burst.yml': 'on: { push: { branches: [nothing] } }\nstages:\n  x:\n    steps: [{ run: "true" }]\n',
    }, 'check [env]');
    const res = await sendGitHubHook(hook.hookUrl, hook.secret, 'push', pushPayload({ name: 'acme/runs', cloneUrl: repo.cloneUrl }, sha, { message: 'check [env]' }));
    const run = await finishedRun(forgeline, res.body.delivery);
    const log = await (await fetch(`${forgeline.url}/api/runs/${run.id}/stages/env/log`)).text();
    const vars = Object.fromEntries(log.split('\n').filter((l) => /^[A-Z_]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    expect(vars).toMatchObject({
      CI: 'true', FORGELINE_FORGE: 'github', FORGELINE_REPO: 'acme/runs', FORGELINE_EVENT: 'push',
      FORGELINE_REF: 'refs/heads/main', FORGELINE_BRANCH: 'main', FORGELINE_SHA: sha, FORGELINE_RUN_ID: String(run.id),
      FORGELINE_STAGE: 'env', FORGELINE_ATTEMPT: '1', FORGELINE_COMMIT_MESSAGE: 'check [env]',
    });
    expect(vars.FORGELINE_TEST_WORKER_SECRET).toBeUndefined();
    expect(vars.DATABASE_URL).toBeUndefined();
    expect(vars.FORGELINE_SECRET_KEY).toBeUndefined();
    expect(log).not.toContain('worker-only-value');
    expect(log).not.toContain(forgeline.database.url);
  });
});
