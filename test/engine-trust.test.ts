import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addToken, setEnvironment, setSecret } from '../scheduler/index.ts';
import { registerRepo } from '../ingest/index.ts';
import { startBench, type Bench } from './helpers/engine.ts';
import { waitFor } from './helpers/forgeline.ts';
import { githubExamples, pushPayload, sendGitHubHook } from './helpers/github-webhook.ts';

const DEPLOY = `name: release
on:
  merge: { branches: [main, hotfix] }
  push: { branches: ["**"] }
  pull_request:
stages:
  test:
    steps: [{ run: "echo testing" }]
  deploy:
    needs: [test]
    environment: production
    secrets: [DEPLOY_TOKEN]
    steps: [{ run: "echo deploying with \${DEPLOY_TOKEN:-no-token}" }]
`;

describe('trust: environments, approvals, forks', () => {
  let b: Bench;
  let approver: string;
  let writer: string;

  beforeAll(async () => {
    b = await startBench('acme/trust', { workers: 2 });
    const pool = b.forgeline.runtime.db.pool;
    approver = (await addToken(pool, 'release-manager', 'approve', 'test')).token;
    writer = (await addToken(pool, 'developer', 'write', 'test')).token;
    await setEnvironment(pool, { repo: b.name, name: 'production', branches: ['main'], approval: true, approvers: ['release-manager'] }, 'test');
    await setSecret({ pool, box: b.forgeline.runtime.deps.box }, { repo: b.name, name: 'DEPLOY_TOKEN', value: 'prod-token-value' }, 'test');
  });
  afterAll(() => b?.stop());

  it('promotes by merge: approval, then the deploy runs and the deployment is recorded with the approver', async () => {
    const sha = await b.repo.commit({ '.forgeline/release.yml': DEPLOY }, 'merge commit', 'main');
    const { runs } = await b.pullRequest(sha, { action: 'closed', merged: true, mergeSha: sha, head: 'feature', base: 'main', number: 11 });
    const id = runs[0]!;
    const waiting = await b.stage(id, 'deploy', 'waiting');
    expect(waiting).toMatchObject({ waitingFor: 'approval', reason: 'waiting for approval to deploy to production' });
    expect((await b.api(`/runs/${id}/stages/deploy/approve`, { method: 'POST', token: writer })).status).toBe(403);
    const approved = await b.api(`/runs/${id}/stages/deploy/approve`, { method: 'POST', token: approver });
    expect(approved.body).toMatchObject({ approved: 'stage' });
    const run = await b.finished(id);
    expect(run.stages.map((s: any) => s.status)).toEqual(['success', 'success']);
    expect(await b.log(id, 'deploy')).toContain('deploying with ***');
    const deployments = await b.api(`/repos/${encodeURIComponent(b.name)}/environments/production/deployments`);
    expect(deployments.body.items[0]).toMatchObject({ runId: id, sha, status: 'success', approvedBy: 'release-manager', stage: 'deploy' });
    const envs = await b.api(`/repos/${encodeURIComponent(b.name)}/environments`);
    expect(envs.body.items[0]).toMatchObject({ name: 'production', deployed: { sha, runId: id } });
  });

  it('refuses an approve token the environment does not name, and asks for approval again on a rerun, of the same file', async () => {
    const stranger = (await addToken(b.forgeline.runtime.db.pool, 'other-approver', 'approve', 'test')).token;
    const sha = await b.repo.commit({ '.forgeline/release.yml': DEPLOY, 'again.txt': 'again' }, 'merge again', 'main');
    const { runs: [id] } = await b.pullRequest(sha, { action: 'closed', merged: true, mergeSha: sha, head: 'feature-2', base: 'main', number: 12 });
    await b.stage(id!, 'deploy', 'waiting');
    const refused = await b.api(`/runs/${id}/stages/deploy/approve`, { method: 'POST', token: stranger });
    expect([refused.status, refused.body.error]).toEqual([403, 'other-approver may not approve deployments to production (approvers: release-manager)']);
    expect((await b.run(id!)).stages[1]).toMatchObject({ status: 'waiting', waitingFor: 'approval' });
    await b.api(`/runs/${id}/stages/deploy/approve`, { method: 'POST', token: approver });
    expect((await b.finished(id!)).status).toBe('success');
    // The file changes on the branch meanwhile; the rerun keeps the run's own file, and asks again.
    await b.repo.commit({ '.forgeline/release.yml': DEPLOY.replace('deploying with', 'changed since') }, 'later', 'main');
    const rerun = await b.api(`/runs/${id}/stages/deploy/rerun`, { method: 'POST', token: writer });
    expect(rerun.body).toMatchObject({ id, stages: ['deploy'] });
    expect(await b.stage(id!, 'deploy', 'waiting')).toMatchObject({ waitingFor: 'approval', attempt: 2 });
    await b.api(`/runs/${id}/stages/deploy/approve`, { method: 'POST', token: approver });
    const again = await b.finished(id!);
    expect([again.status, again.stages[1].attempt]).toEqual(['success', 2]);
    expect(await b.log(id!, 'deploy')).toContain('deploying with ***');
    const deployments = (await b.api(`/repos/${encodeURIComponent(b.name)}/environments/production/deployments`)).body.items.filter((d: any) => d.runId === id);
    expect(deployments.map((d: any) => [d.attempt, d.approvedBy])).toEqual([[2, 'release-manager'], [1, 'release-manager']]);
  });

  it('never deploys from a pull request, nor from a branch outside the rule, whatever the file says', async () => {
    const sha = await b.repo.commit({ '.forgeline/release.yml': DEPLOY.replace('environment: production', 'environment: production\n    approval: { required: false }') }, 'try', 'feature');
    const { runs: [pr] } = await b.pullRequest(sha, { action: 'opened', head: 'feature', number: 12 });
    const prRun = await b.finished(pr!);
    expect(prRun.stages.find((s: any) => s.name === 'deploy')).toMatchObject({ status: 'failure', reason: 'pull request events never deploy to the protected environment production' });
    const { runs: [push] } = await b.push({ 'x.txt': '1' }, { branch: 'feature' });
    const pushRun = await b.finished(push!);
    expect(pushRun.stages.find((s: any) => s.name === 'deploy')).toMatchObject({ status: 'failure', reason: "branch 'feature' may not deploy to production (allowed: main)" });
  });

  it('holds a fork\'s pull request until approved, and never gives it secrets or an environment', async () => {
    const sha = await b.repo.commit({ '.forgeline/release.yml': DEPLOY, '.forgeline/ci.yml': 'on: { pull_request: {} }\nstages:\n  peek:\n    secrets: [DEPLOY_TOKEN]\n    steps: [{ run: "echo token=${DEPLOY_TOKEN:-none}" }]\n' }, 'from a fork', 'fork-work');
    const { runs } = await b.pullRequest(sha, { action: 'opened', head: 'fork-work', fork: true, number: 13 });
    const pipelines = await Promise.all(runs.map(async (r) => [(await b.run(r)).pipeline, r] as const));
    const ci = pipelines.find(([p]) => p === 'ci')![1];
    const waiting = await b.stage(ci, 'peek', 'waiting');
    expect(waiting).toMatchObject({ waitingFor: 'fork', reason: 'waiting for approval: a pull request from a fork' });
    const before = await b.run(ci);
    expect(before.pipelineDiff).toContain('+++ b/.forgeline/ci.yml');
    expect(before.pipelineDiff).toContain('+    secrets: [DEPLOY_TOKEN]');
    expect((await b.api(`/runs/${ci}/stages/peek/approve`, { method: 'POST', token: approver })).body).toMatchObject({ approved: 'run' });
    expect((await b.finished(ci)).status).toBe('success');
    const log = await b.log(ci, 'peek');
    expect(log).toContain('token=none');
    expect(log).toContain('secrets withheld (DEPLOY_TOKEN): a pull request from a fork never receives secrets');
    const release = runs.find((r) => r !== ci)!;
    await b.api(`/runs/${release}/stages/test/approve`, { method: 'POST', token: approver });
    const releaseRun = await b.finished(release);
    expect(releaseRun.stages.find((s: any) => s.name === 'deploy')).toMatchObject({ status: 'skipped', reason: "a fork's pull request never enters an environment (production)" });
  });

  it('runs one deployment per environment at a time and keeps only the newest waiting one', async () => {
    const pool = b.forgeline.runtime.db.pool;
    await setEnvironment(pool, { repo: b.name, name: 'staging', branches: null, approval: false, approvers: null }, 'test');
    // Each deployment waits until the test releases it: no race with the machine's speed.
    const scratch = await mkdtemp(path.join(tmpdir(), 'forgeline-lock-'));
    const file = (tag: string) => `name: stage-deploy\non: { push: { branches: [main] } }\nstages:\n  deploy:\n    environment: staging\n    steps: [{ run: "echo ${tag}; while [ ! -e ${scratch}/release-$FORGELINE_RUN_ID ]; do sleep 0.05; done" }]\n`;
    const release = (id: number) => writeFile(path.join(scratch, `release-${id}`), '');
    const first = await b.push({ '.forgeline/release.yml': 'on: { manual: {} }\nstages: { s: { steps: [{ run: "true" }] } }\n', '.forgeline/stage.yml': file('one') });
    await b.stage(first.runs[0]!, 'deploy', 'running');
    const second = await b.push({ '.forgeline/stage.yml': file('two') });
    expect(await b.stage(second.runs[0]!, 'deploy', 'waiting')).toMatchObject({ waitingFor: 'lock', reason: `waiting for staging: run ${first.runs[0]} is deploying` });
    const third = await b.push({ '.forgeline/stage.yml': file('three') });
    await b.stage(third.runs[0]!, 'deploy', 'waiting');
    expect(await b.stage(second.runs[0]!, 'deploy', 'canceled')).toMatchObject({ reason: `superseded by run ${third.runs[0]}` });
    await release(first.runs[0]!);
    expect((await b.finished(first.runs[0]!)).status).toBe('success');
    await b.stage(third.runs[0]!, 'deploy', 'running');
    await release(third.runs[0]!);
    expect((await b.finished(third.runs[0]!)).status).toBe('success');
    const history = (await b.api(`/repos/${encodeURIComponent(b.name)}/environments/staging/deployments`)).body.items.map((d: any) => [d.runId, d.status]);
    expect(history).toEqual([[third.runs[0], 'success'], [first.runs[0], 'success']]);
  });

  it('keeps an environment\'s lock through a deployment\'s retries, and gives it to the next one after the last', async () => {
    const scratch = await mkdtemp(path.join(tmpdir(), 'forgeline-lock-retry-'));
    const file = `name: retried-deploy\non: { push: { branches: [retried] } }\nstages:\n  deploy:\n    environment: retried\n    retries: 1\n    steps: [{ run: "[ $FORGELINE_ATTEMPT != 1 ]; while [ ! -e ${scratch}/release-$FORGELINE_RUN_ID ]; do sleep 0.05; done" }]\n`;
    // A branch of its own: the other tests' pipelines run on main.
    const push = async (n: string) => {
      for (const id of (await b.push({ '.forgeline/retried.yml': file, 'n.txt': n }, { branch: 'retried' })).runs) {
        if ((await b.run(id)).pipeline === 'retried-deploy') return id;
      }
      throw new Error('no retried-deploy run');
    };
    const first = await push('first');
    expect(await b.stage(first, 'deploy', 'running')).toMatchObject({ attempt: 1 });
    await waitFor(async () => ((await b.run(first)).stages[0].attempt === 2 ? true : undefined), 'the second attempt');
    const second = await push('second');
    expect(await b.stage(second, 'deploy', 'waiting')).toMatchObject({ waitingFor: 'lock', reason: `waiting for retried: run ${first} is deploying` });
    await writeFile(path.join(scratch, `release-${first}`), '');
    expect((await b.finished(first)).stages[0]).toMatchObject({ status: 'success', attempt: 2 });
    await writeFile(path.join(scratch, `release-${second}`), '');
    expect((await b.finished(second)).stages[0]).toMatchObject({ status: 'success', attempt: 2 });
  });

  it('asks for approval before the lock, and never supersedes a manual run: each deploys what it names once approved', async () => {
    const pool = b.forgeline.runtime.db.pool;
    await setEnvironment(pool, { repo: b.name, name: 'qa', branches: null, approval: true, approvers: null }, 'test');
    const qa = 'name: qa\non: { manual: {} }\nstages:\n  deploy:\n    environment: qa\n    steps: [{ run: "echo deploying $FORGELINE_SHA" }]\n';
    const trigger = async () => (await b.api('/trigger', { method: 'POST', token: writer, body: { repo: b.name, ref: 'main', pipeline: 'qa' } })).body.runs[0] as number;
    const older = await b.repo.commit({ '.forgeline/qa.yml': qa, 'qa.txt': 'older' }, 'older', 'main');
    const a = await trigger();
    const newer = await b.repo.commit({ 'qa.txt': 'newer' }, 'newer', 'main');
    const c = await trigger();
    // Both wait for approval, neither holding the environment.
    for (const id of [a, c]) expect(await b.stage(id, 'deploy', 'waiting')).toMatchObject({ waitingFor: 'approval' });
    await b.api(`/runs/${c}/stages/deploy/approve`, { method: 'POST', token: approver });
    expect((await b.finished(c)).status).toBe('success');
    expect(await b.log(c, 'deploy')).toContain(`deploying ${newer}`);
    // The older manual run was neither superseded nor held up by the newer one.
    expect((await b.run(a)).stages[0]).toMatchObject({ status: 'waiting', waitingFor: 'approval' });
    await b.api(`/runs/${a}/stages/deploy/approve`, { method: 'POST', token: approver });
    expect((await b.finished(a)).status).toBe('success');
    expect(await b.log(a, 'deploy')).toContain(`deploying ${older}`);
    const history = (await b.api(`/repos/${encodeURIComponent(b.name)}/environments/qa/deployments`)).body.items.map((d: any) => [d.runId, d.sha]);
    expect(history).toEqual([[a, older], [c, newer]]);
  });

  it('cancels a pull request\'s older runs when new commits arrive, and its waiting stages when it closes', async () => {
    const ci = 'on: { pull_request: {} }\nstages:\n  slow:\n    steps: [{ run: "sleep 30" }]\n  after:\n    needs: [slow]\n    steps: [{ run: "true" }]\n';
    const one = await b.repo.commit({ '.forgeline/ci.yml': ci, '.forgeline/release.yml': 'on: { manual: {} }\nstages: { s: { steps: [{ run: "true" }] } }\n', '.forgeline/stage.yml': 'on: { manual: {} }\nstages: { s: { steps: [{ run: "true" }] } }\n' }, 'pr one', 'topic');
    const first = await b.pullRequest(one, { action: 'opened', head: 'topic', number: 21 });
    await b.stage(first.runs[0]!, 'slow', 'running');
    const two = await b.repo.commit({ 'a.txt': '2' }, 'pr two', 'topic');
    const second = await b.pullRequest(two, { action: 'synchronize', head: 'topic', number: 21 });
    const old = await b.finished(first.runs[0]!);
    expect(old.stages.map((s: any) => [s.status, s.reason])).toEqual([
      ['canceled', `superseded by run ${second.runs[0]} (new commits)`], ['canceled', `superseded by run ${second.runs[0]} (new commits)`],
    ]);
    await b.stage(second.runs[0]!, 'slow', 'running');
    await b.pullRequest(two, { action: 'closed', head: 'topic', number: 21 });
    expect(await b.stage(second.runs[0]!, 'after', 'canceled')).toMatchObject({ reason: 'pull request #21 closed' });
    await b.api(`/runs/${second.runs[0]}/cancel`, { method: 'POST', token: writer });
  });

  it('holds a fork\'s pull request under --fork-prs run when steps would run as the worker\'s own user, and plans none under ignore', async () => {
    const deps = { pool: b.forgeline.runtime.db.pool, box: b.forgeline.runtime.deps.box, publicUrl: b.forgeline.url, urls: b.forgeline.config.urls };
    const sha = await b.repo.commit({ '.forgeline/ci.yml': 'on: { pull_request: {} }\nstages:\n  s: { steps: [{ run: "echo forked" }] }\n' }, 'from a fork', 'forked');
    const forkPr = (name: string) => {
      const pr = githubExamples('pull_request').find((p) => p.action === 'opened');
      pr.number = pr.pull_request.number = 31;
      pr.repository.full_name = pr.pull_request.base.repo.full_name = name;
      pr.repository.clone_url = b.repo.cloneUrl;
      Object.assign(pr.pull_request.head, { sha, ref: 'forked', repo: { ...pr.pull_request.head.repo, full_name: 'stranger/fork' } });
      pr.pull_request.base.ref = 'main';
      return pr;
    };
    const planned = async (hook: { hookUrl: string; secret: string }, name: string) => {
      const res = await sendGitHubHook(hook.hookUrl, hook.secret, 'pull_request', forkPr(name));
      expect(res.status).toBe(202);
      return b.planned(res.body.delivery);
    };
    // This worker has no --run-as: a fork's steps would run as the worker's own user, so they wait whatever the policy.
    const run = await registerRepo(deps, { forge: 'github', name: 'acme/forks-run', cloneUrl: b.repo.cloneUrl, apiUrl: b.github.apiUrl, forkPrs: 'run' }, 'test');
    const held = await planned(run, 'acme/forks-run');
    expect(await b.stage(held.runs[0], 's', 'waiting')).toMatchObject({ waitingFor: 'fork' });
    await b.api(`/runs/${held.runs[0]}/cancel`, { method: 'POST', token: writer });
    const ignore = await registerRepo(deps, { forge: 'github', name: 'acme/forks-ignored', cloneUrl: b.repo.cloneUrl, apiUrl: b.github.apiUrl, forkPrs: 'ignore' }, 'test');
    const ignored = await planned(ignore, 'acme/forks-ignored');
    expect(ignored.runs).toEqual([]);
    expect(ignored.explain[0].reason).toBe('pull requests from forks are ignored (--fork-prs ignore)');
  });

  it('cancels a pull request\'s waiting stages when it is merged, or when its head branch is deleted', async () => {
    const ci = 'on: { pull_request: {} }\nstages:\n  slow:\n    steps: [{ run: "sleep 30" }]\n  after:\n    needs: [slow]\n    steps: [{ run: "true" }]\n';
    const merging = await b.repo.commit({ '.forgeline/ci.yml': ci }, 'to merge', 'topic-merged');
    const merged = await b.pullRequest(merging, { action: 'opened', head: 'topic-merged', base: 'develop', number: 22 });
    await b.stage(merged.runs[0]!, 'slow', 'running');
    await b.pullRequest(merging, { action: 'closed', merged: true, mergeSha: merging, head: 'topic-merged', base: 'develop', number: 22 });
    expect(await b.stage(merged.runs[0]!, 'after', 'canceled')).toMatchObject({ reason: 'pull request #22 merged' });
    await b.api(`/runs/${merged.runs[0]}/cancel`, { method: 'POST', token: writer });

    const going = await b.repo.commit({ 'gone.txt': 'soon' }, 'to delete', 'topic-gone');
    const gone = await b.pullRequest(going, { action: 'opened', head: 'topic-gone', base: 'develop', number: 23 });
    await b.stage(gone.runs[0]!, 'slow', 'running');
    const deletion = { ...pushPayload({ name: b.name, cloneUrl: b.repo.cloneUrl }, '0'.repeat(40), { branch: 'topic-gone', before: going }), deleted: true, created: false, head_commit: null, commits: [] };
    expect((await sendGitHubHook(b.hook.hookUrl, b.hook.secret, 'push', deletion)).status).toBe(202);
    expect(await b.stage(gone.runs[0]!, 'after', 'canceled')).toMatchObject({ reason: 'branch topic-gone deleted' });
    await b.api(`/runs/${gone.runs[0]}/cancel`, { method: 'POST', token: writer });
  });
});
