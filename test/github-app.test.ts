import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerRepo } from '../ingest/index.ts';
import { startFakeGitHub, type FakeGitHub } from './helpers/fake-github.ts';
import { startForgeline, waitFor, type TestForgeline } from './helpers/forgeline.ts';
import { createTestRepo, type TestRepo } from './helpers/git-repo.ts';
import { githubExamples, pushPayload, sendGitHubHook } from './helpers/github-webhook.ts';

describe('GitHub App mode', () => {
  let forgeline: TestForgeline;
  let github: FakeGitHub;
  let repo: TestRepo;
  let hook: { id: string; hookUrl: string; secret: string };

  beforeAll(async () => {
    [forgeline, github, repo] = await Promise.all([startForgeline({ workers: 2 }), startFakeGitHub(), createTestRepo()]);
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    hook = await registerRepo(
      { pool: forgeline.runtime.db.pool, box: forgeline.runtime.deps.box, publicUrl: forgeline.url, urls: forgeline.config.urls },
      { forge: 'github', name: 'acme/app', cloneUrl: repo.cloneUrl, apiUrl: github.apiUrl, app: { appId: '12345', privateKey } }, 'test');
  });
  afterAll(async () => {
    await forgeline?.stop();
    await github?.close();
  });

  it('reports stages as check runs, queued to completed with the log\'s tail, and reruns a rerequested one', async () => {
    const sha = await repo.commit({ '.forgeline/ci.yml': 'on: { push: {} }\nstages:\n  build:\n    steps: [{ run: "echo compiling $FORGELINE_ATTEMPT" }]\n' });
    const sent = await sendGitHubHook(hook.hookUrl, hook.secret, 'push', pushPayload({ name: 'acme/app', cloneUrl: repo.cloneUrl }, sha));
    expect(sent.status).toBe(202);
    await waitFor(async () => (github.checks.some((c) => c.name === 'forgeline/ci/push' && c.status === 'completed') ? true : undefined), 'the run check to complete');
    expect(github.violations).toEqual([]);
    expect(github.statuses).toEqual([]);
    const build = github.checks.filter((c) => c.name === 'forgeline/ci/push/build');
    // Created once (queued, or already in progress when the report ran late), then only updated.
    expect(build[0]).toMatchObject({ method: 'POST' });
    expect(['queued', 'in_progress', 'completed']).toContain(build[0]!.status);
    expect(build.slice(1).every((c) => c.method === 'PATCH' && c.id === build[0]!.id)).toBe(true);
    expect(build.at(-1)).toMatchObject({ status: 'completed', conclusion: 'success' });
    expect(build.at(-1)!.text).toContain('compiling 1');
    expect(build.every((c) => c.authorization === 'token ghs_installationtoken')).toBe(true);

    const { rows: [run] } = await forgeline.runtime.db.pool.query('SELECT id FROM runs WHERE sha = $1', [sha]);
    const rerequest = githubExamples('check_run').find((p) => p.action === 'rerequested') ?? githubExamples('check_run')[0];
    rerequest.action = 'rerequested';
    rerequest.repository.full_name = 'acme/app';
    rerequest.check_run.external_id = `${run.id}:build`;
    expect((await sendGitHubHook(hook.hookUrl, hook.secret, 'check_run', rerequest)).status).toBe(202);
    const rerun = await waitFor(async () => {
      const r = await (await fetch(`${forgeline.url}/api/runs/${run.id}`)).json() as any;
      return r.attempt === 2 && r.status === 'success' ? r : undefined;
    }, 'the rerun');
    expect(rerun.stages[0].attempt).toBe(2);
    await waitFor(async () => (github.checks.some((c) => c.name === 'forgeline/ci/push/build' && c.text?.includes('compiling 2')) ? true : undefined), 'the rerun\'s check');
  });
});
