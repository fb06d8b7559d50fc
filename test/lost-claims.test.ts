// What becomes of what a lost worker had claimed, asked of the database directly: the lock of
// a deployment is freed only once that attempt has ended, and a stage queued again says what
// it waits for.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planDelivery } from '../scheduler/plan.ts';
import { freeLocksOfLostWorkers, requeueUnstarted } from '../scheduler/reaper.ts';
import { environments, runs } from '../store/index.ts';
import { startBench, type Bench } from './helpers/engine.ts';
import { pushPayload, sendGitHubHook } from './helpers/github-webhook.ts';

describe('claims of lost workers', () => {
  let b: Bench;
  // No worker here: stages stay where the test puts them, and no monitor pass runs on its own.
  beforeAll(async () => { b = await startBench('acme/locks', { workers: 0 }); });
  afterAll(() => b?.stop());

  it('keeps the lock of an attempt queued again after its claim, and frees that of one canceled on a lost worker, to the next deployment', async () => {
    const pool = b.forgeline.runtime.db.pool;
    const deps = b.forgeline.runtime.deps;
    // Planned here: this instance has no worker to plan.
    const push = async (n: string) => {
      const sha = await b.repo.commit({ '.forgeline/deploy.yml': 'on: { push: {} }\nstages:\n  deploy:\n    environment: locked\n    steps: [{ run: "true" }]\n', 'n.txt': n }, n, 'main');
      const res = await sendGitHubHook(b.hook.hookUrl, b.hook.secret, 'push', pushPayload({ name: b.name, cloneUrl: b.repo.cloneUrl }, sha));
      return (await planDelivery(deps, res.body.delivery))[0]!;
    };
    const first = await push('1');
    const second = await push('2');
    expect((await b.run(second)).stages[0]).toMatchObject({ status: 'waiting', waitingFor: 'lock' });
    const ghost = 'ghost-worker:1:x';
    // Claimed by a worker that has no row (lost), which then put it back: claimed, never started.
    await pool.query(`UPDATE stages SET status = 'running', worker = $2, started_at = now() - interval '1 minute' WHERE run_id = $1`, [first, ghost]);
    await environments.claimLock(pool, first, 'deploy', 1, ghost);
    expect(await requeueUnstarted({ ...deps, workerName: ghost }, { runId: first, name: 'deploy', attempt: 1 })).toBe(true);
    expect(await environments.locksOfLostWorkers(pool, 2)).toEqual([]);
    expect(await freeLocksOfLostWorkers(deps, 2)).toBe(0);
    expect(await environments.lockHolder(pool, b.hook.id, 'locked')).toMatchObject({ runId: first, attempt: 1 });

    // Claimed again by the lost worker and canceled while it ran: its step died with it, the next one goes.
    await pool.query(`UPDATE stages SET status = 'running', worker = $2 WHERE run_id = $1`, [first, ghost]);
    await environments.claimLock(pool, first, 'deploy', 1, ghost);
    await runs.cancelStages(pool, first, 'canceled by test');
    expect(await environments.locksOfLostWorkers(pool, 2)).toEqual([{ repoId: b.hook.id, environment: 'locked', runId: first, stage: 'deploy', attempt: 1 }]);
    expect(await freeLocksOfLostWorkers(deps, 2)).toBe(1);
    expect(await environments.lockHolder(pool, b.hook.id, 'locked')).toMatchObject({ runId: second, attempt: 1 });
    expect((await b.run(second)).stages[0].status).toBe('queued');
  });

  it('leaves a stage queued again for labels no live worker has waiting for them, as its first attempt did', async () => {
    const pool = b.forgeline.runtime.db.pool;
    const deps = b.forgeline.runtime.deps;
    const sha = await b.repo.commit({ '.forgeline/gpu.yml': 'on: { push: {} }\nstages:\n  render:\n    runs-on: [gpu]\n    steps: [{ run: "true" }]\n' }, 'gpu', 'main');
    const res = await sendGitHubHook(b.hook.hookUrl, b.hook.secret, 'push', pushPayload({ name: b.name, cloneUrl: b.repo.cloneUrl }, sha));
    let id: number | undefined;
    for (const r of await planDelivery(deps, res.body.delivery)) if ((await b.run(r)).pipeline === 'gpu') id = r;
    const waiting = { status: 'waiting', waitingFor: 'labels', reason: 'waiting for a worker with labels [gpu]' };
    const render = async () => (await b.run(id!)).stages.find((s: any) => s.name === 'render');
    expect(await render()).toMatchObject(waiting);
    // Claimed by a gpu worker that then put it back, and is gone.
    const ghost = 'ghost-gpu:1:x';
    await pool.query(`UPDATE stages SET status = 'running', worker = $2, waiting_for = NULL, started_at = now() WHERE run_id = $1 AND name = 'render'`, [id, ghost]);
    expect(await requeueUnstarted({ ...deps, workerName: ghost }, { runId: id!, name: 'render', attempt: 1 })).toBe(true);
    expect(await render()).toMatchObject(waiting);
  });
});
