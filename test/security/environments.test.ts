// Attacks on an environment's protection by what a repository writer can
// push: a tag named like the protected branch.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setEnvironment, setSecret } from '../../scheduler/index.ts';
import { startBench, type Bench } from '../helpers/engine.ts';
import { pushPayload, sendGitHubHook } from '../helpers/github-webhook.ts';

const PIPELINE = `on: { push: { tags: ["*"], branches: ["*"] } }
stages:
  deploy:
    environment: production
    secrets: [DEPLOY_KEY]
    steps: [{ run: 'echo "deploying with \${#DEPLOY_KEY} characters"' }]
`;

describe('environments under attack', () => {
  let b: Bench;
  beforeAll(async () => {
    b = await startBench('acme/envs', { workers: 1 });
    const pool = b.forgeline.runtime.db.pool;
    await setEnvironment(pool, { repo: b.name, name: 'production', branches: ['main'], approval: false, approvers: null }, 'test');
    await setSecret(b.forgeline.runtime.deps, { repo: b.name, environment: 'production', name: 'DEPLOY_KEY', value: 'production-key-value' }, 'test');
  });
  afterAll(() => b?.stop());

  /** Pushes the tag `name` at `sha`, as GitHub announces it. */
  async function pushTag(name: string, sha: string) {
    const res = await sendGitHubHook(b.hook.hookUrl, b.hook.secret, 'push', { ...pushPayload({ name: b.name, cloneUrl: b.repo.cloneUrl }, sha), ref: `refs/tags/${name}`, base_ref: null });
    expect(res.status).toBe(202);
    return (await b.planned(res.body.delivery)).runs as number[];
  }

  it('never deploys a tag named `main` where only the branch main may, and its step never sees the secret', async () => {
    const { sha, runs: [branchRun] } = await b.push({ '.forgeline/ci.yml': PIPELINE });
    expect((await b.finished(branchRun!)).status).toBe('success');
    expect(await b.log(branchRun!, 'deploy')).toContain(`deploying with ${'production-key-value'.length} characters`);

    const [tagRun] = await pushTag('main', sha);
    const run = await b.finished(tagRun!);
    expect(run.stages[0]).toMatchObject({ status: 'failure', reason: "tag 'main' may not deploy to production: it allows no tags (env set --tags)" });
    expect(await b.log(tagRun!, 'deploy')).not.toContain('deploying');
  });

  it('deploys a tag only by the environment\'s --tags rule', async () => {
    await setEnvironment(b.forgeline.runtime.db.pool, { repo: b.name, name: 'production', branches: ['main'], tags: ['v*'], approval: false, approvers: null }, 'test');
    const { sha } = await b.push({ 'README.md': 'release' });
    const [refused] = await pushTag('main', sha);
    expect((await b.finished(refused!)).stages[0]).toMatchObject({ status: 'failure', reason: "tag 'main' may not deploy to production (allowed: v*)" });
    const [released] = await pushTag('v1.2.0', sha);
    expect((await b.finished(released!)).stages[0]).toMatchObject({ status: 'success' });
  });
});
