import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fireSchedule, QUEUES } from '../scheduler/index.ts';
import { registerRepo } from '../ingest/index.ts';
import { startFakeGitHub, type FakeGitHub } from './helpers/fake-github.ts';
import { startForgeline, waitFor, type TestForgeline } from './helpers/forgeline.ts';
import { createTestRepo, type TestRepo } from './helpers/git-repo.ts';
import { githubExamples, pushPayload, sendGitHubHook } from './helpers/github-webhook.ts';

describe('pipeline files in the server', () => {
  let forgeline: TestForgeline;
  let github: FakeGitHub;
  let repo: TestRepo;
  let hook: { id: string; hookUrl: string; secret: string };
  const lastStatus = (context: string, sha: string) => github.statuses.filter((s) => s.context === context && s.sha === sha).at(-1);

  beforeAll(async () => {
    [forgeline, github, repo] = await Promise.all([startForgeline({ workers: 2 }), startFakeGitHub(), createTestRepo()]);
    hook = await registerRepo(
      { pool: forgeline.runtime.db.pool, box: forgeline.runtime.deps.box, publicUrl: forgeline.url, urls: forgeline.config.urls },
      { forge: 'github', name: 'acme/files', cloneUrl: repo.cloneUrl, apiUrl: github.apiUrl }, 'test');
  });
  afterAll(async () => {
    await forgeline?.stop();
    await github?.close();
  });

  async function deliver(event: string, payload: unknown) {
    const res = await sendGitHubHook(hook.hookUrl, hook.secret, event, payload);
    expect(res.status).toBe(202);
    return waitFor(async () => {
      const d = await (await fetch(`${forgeline.url}/api/deliveries/${res.body.delivery}`)).json() as any;
      return d.explain.length ? d : undefined;
    }, 'planning');
  }

  const finished = (runId: number) => waitFor(async () => {
    const r = await (await fetch(`${forgeline.url}/api/runs/${runId}`)).json() as any;
    return ['success', 'failure', 'skipped', 'canceled'].includes(r.status) ? r : undefined;
  }, `run ${runId}`);

  it('fails the context of an invalid file with its first problem, all of them on the run', async () => {
    const sha = await repo.commit({
      '.forgeline/ci.yml': 'on:\n  push:\nstages:\n  test:\n    needs: [nope]\n    steps:\n      - run: make\n        shel: zsh\n',
    });
    const delivery = await deliver('push', pushPayload({ name: 'acme/files', cloneUrl: repo.cloneUrl }, sha));
    const [runId] = delivery.runs;
    const run = await finished(runId);
    expect(run).toMatchObject({ pipeline: 'ci', status: 'failure', problems: [".forgeline/ci.yml:8:9: /stages/test/steps/0: unknown key 'shel'"] });
    await waitFor(async () => lastStatus('forgeline/ci/push', sha), 'the failure status');
    expect(lastStatus('forgeline/ci/push', sha)).toMatchObject({
      state: 'failure',
      description: "invalid pipeline file: .forgeline/ci.yml:8:9: /stages/test/steps/0: unknown key 'shel'",
      target_url: `${forgeline.config.publicUrl}/runs/${runId}`,
    });
    expect(delivery.explain[0].pipelines[0]).toMatchObject({ name: 'ci', triggered: false, problems: run.problems });
  });

  it('reports success "not triggered" on a pull request its filters reject, so required checks do not wait', async () => {
    const sha = await repo.commit({
      '.forgeline/ci.yml': 'on:\n  pull_request: { branches: [release] }\nstages:\n  test: { steps: [{ run: make }] }\n',
    }, 'pr change', 'feature');
    const pr = githubExamples('pull_request').find((p) => p.action === 'opened');
    pr.repository.full_name = 'acme/files';
    pr.pull_request.head.sha = sha;
    pr.pull_request.head.ref = 'feature';
    pr.pull_request.head.repo.full_name = 'acme/files';
    pr.pull_request.base.repo.full_name = 'acme/files';
    pr.pull_request.base.ref = 'main';
    const delivery = await deliver('pull_request', pr);
    await finished(delivery.runs[0]);
    await waitFor(async () => lastStatus('forgeline/ci/pr', sha), 'the status');
    expect(lastStatus('forgeline/ci/pr', sha)).toMatchObject({
      state: 'success', description: "not triggered: on.pull_request.branches: base 'main' matches none of [release]",
    });
    expect(github.statuses.filter((s) => s.sha === sha && s.context.startsWith('forgeline/ci/pr/'))).toEqual([]);
  });

  it('runs a stage whose `if` reads results after its needs finish, whatever they were; skips the rest', async () => {
    const base = await repo.commit({ 'README.md': 'x' }, 'base');
    const sha = await repo.commit({
      '.forgeline/ci.yml': `on: { push: { paths: ["src/**"] } }
stages:
  test:
    steps: [{ run: "exit 1" }]
  deploy:
    needs: [test]
    steps: [{ run: "echo deploy" }]
  notify:
    needs: [test]
    if: stages.test.result == "failure"
    steps: [{ run: "echo notifying about $FORGELINE_SHA" }]
  tag-only:
    if: event.kind == "tag"
    steps: [{ run: "echo never" }]
`,
      'src/main.c': 'int main;',
    });
    const delivery = await deliver('push', pushPayload({ name: 'acme/files', cloneUrl: repo.cloneUrl }, sha, { before: base }));
    expect(delivery.explain[0].pipelines[0].reason).toContain('on.push.paths matched');
    const run = await finished(delivery.runs[0]);
    expect(Object.fromEntries(run.stages.map((s: any) => [s.name, [s.status, s.reason]]))).toEqual({
      test: ['failure', 'step 1: exited with 1'],
      deploy: ['skipped', "needs 'test', which ended failure"],
      notify: ['success', null],
      'tag-only': ['skipped', 'if: event.kind == "tag" is false'],
    });
    const log = await (await fetch(`${forgeline.url}/api/runs/${run.id}/stages/notify/log`)).text();
    expect(log).toContain(`notifying about ${sha}`);
  });

  it('does not run a pipeline whose paths did not change', async () => {
    const base = await repo.commit({ 'src/x.c': '1' }, 'base');
    const sha = await repo.commit({ '.forgeline/ci.yml': 'on: { push: { paths: ["src/**"] } }\nstages:\n  s: { steps: [{ run: "true" }] }\n', 'docs/readme.md': 'docs' }, 'docs only');
    const delivery = await deliver('push', pushPayload({ name: 'acme/files', cloneUrl: repo.cloneUrl }, sha, { before: base }));
    expect(delivery.runs).toEqual([]);
    expect(delivery.explain[0].pipelines[0]).toMatchObject({ triggered: false, reason: 'on.push.paths: none of 2 changed file(s) matches [src/**]' });
  });

  it('keeps pg-boss schedules in step with on.schedule on the default branch, and runs them there once a minute at most', async () => {
    const nightly = 'name: nightly\non:\n  schedule: [{ cron: "0 3 * * *" }, { cron: "30 * * * *" }]\nstages:\n  s: { steps: [{ run: "echo scheduled on $FORGELINE_BRANCH" }] }\n';
    const sha = await repo.commit({ '.forgeline/nightly.yml': nightly, '.forgeline/ci.yml': 'on: { push: { branches: [nothing] } }\nstages: { s: { steps: [{ run: "true" }] } }\n' }, 'schedules', 'main');
    await deliver('push', pushPayload({ name: 'acme/files', cloneUrl: repo.cloneUrl }, sha));
    const schedules = await forgeline.runtime.deps.boss.getSchedules(QUEUES.schedule);
    expect(schedules.map((s) => [s.cron, s.data]).sort()).toEqual([
      ['0 3 * * *', { repoId: hook.id, pipeline: 'nightly', cron: '0 3 * * *' }],
      ['30 * * * *', { repoId: hook.id, pipeline: 'nightly', cron: '30 * * * *' }],
    ]);

    const at = new Date('2026-11-27T03:00:10Z');
    const [runId] = await fireSchedule(forgeline.runtime.deps, { repoId: hook.id, pipeline: 'nightly', cron: '0 3 * * *' }, at);
    const run = await finished(runId!);
    expect(run).toMatchObject({ pipeline: 'nightly', status: 'success', sha, event: { kind: 'schedule', branch: 'main', ref: 'refs/heads/main' } });
    expect(await (await fetch(`${forgeline.url}/api/runs/${runId}/stages/s/log`)).text()).toContain('scheduled on main');
    await waitFor(async () => lastStatus('forgeline/nightly/schedule', sha)?.state === 'success' || undefined, 'the schedule status');
    // The same schedule firing twice within the minute builds once.
    expect(await fireSchedule(forgeline.runtime.deps, { repoId: hook.id, pipeline: 'nightly', cron: '0 3 * * *' }, new Date('2026-11-27T03:00:40Z'))).toEqual([]);

    const later = await repo.commit({ '.forgeline/nightly.yml': nightly.replace(', { cron: "30 * * * *" }', '') }, 'one schedule less', 'main');
    await deliver('push', pushPayload({ name: 'acme/files', cloneUrl: repo.cloneUrl }, later));
    expect((await forgeline.runtime.deps.boss.getSchedules(QUEUES.schedule)).map((s) => s.cron)).toEqual(['0 3 * * *']);
  });
});
