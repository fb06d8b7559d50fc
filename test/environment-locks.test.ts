// Who may free an environment's lock, asked of the database directly: the lock of a
// deployment a lost worker claimed is freed only once that attempt has ended.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planDelivery } from '../scheduler/plan.ts';
import { freeLocksOfLostWorkers, requeueUnstarted } from '../scheduler/reaper.ts';
import { environments, runs } from '../store/index.ts';
import { startBench, type Bench } from './helpers/engine.ts';
import { pushPayload, sendGitHubHook } from './helpers/github-webhook.ts';

describe('environment locks of lost workers', () => {
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
});
