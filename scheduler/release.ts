import { environments, repos, runs, type Queryable, type RunRow } from '../store/index.ts';
import type { SchedulerDeps } from './deps.ts';
import { sendReport } from './dispatch.ts';
import { openStage } from './gates.ts';
import { environmentOf } from './run-definition.ts';

/**
 * Reopens stages that were left waiting, inside the caller's transaction:
 * back to `queued`, then through their gates again (an approved stage goes on
 * to the lock; a released lock lets the next deployment take it).
 */
export async function reopenStages(deps: SchedulerDeps, tx: Queryable, runId: number, names: string[]): Promise<Array<{ runId: number; name: string }>> {
  await runs.lockRun(tx, runId);
  const run = (await runs.getRun(tx, runId))!;
  const repo = (await repos.getRepo(tx, run.repoId))!;
  const superseded: Array<{ runId: number; name: string }> = [];
  for (const stage of await runs.getStages(tx, runId)) {
    if (!names.includes(stage.name) || stage.status !== 'waiting') continue;
    await runs.setQueued(tx, runId, stage.name, stage.attempt);
    stage.status = 'queued';
    superseded.push(...(await openStage(deps, tx, run, repo, stage)).superseded);
  }
  await sendReport(deps, tx, runId);
  return superseded;
}

/**
 * After a deploying stage ended: its deployment is recorded, and the next
 * waiting one takes the lock. `unclaimedOnly` (a cancel): an attempt a worker
 * claimed keeps the lock until that worker has killed its step (stage.ts) or
 * is found lost (reaper.ts).
 */
export async function releaseEnvironment(
  deps: SchedulerDeps, tx: Queryable, run: RunRow, stage: { name: string; attempt: number; status: string }, opts: { unclaimedOnly?: boolean } = {},
): Promise<void> {
  const environment = environmentOf(run, stage.name);
  if (!environment) return;
  await environments.finishDeployment(tx, run.id, stage.name, stage.attempt, stage.status);
  await freeLock(deps, tx, { repoId: run.repoId, environment, runId: run.id, stage: stage.name, attempt: stage.attempt }, opts);
}

/** Frees the environment's lock a stage's attempt holds, and the next waiting deployment takes it; false when it held none. */
export async function freeLock(deps: SchedulerDeps, tx: Queryable, lock: environments.HeldLock, opts: { unclaimedOnly?: boolean } = {}): Promise<boolean> {
  if (!(await environments.releaseLock(tx, lock.repoId, lock.environment, lock.runId, lock.stage, lock.attempt, opts))) return false;
  const next = await runs.nextWaitingForLock(tx, lock.repoId, lock.environment);
  if (next) await reopenStages(deps, tx, next.runId, [next.name]);
  return true;
}

/** After a run of a concurrency group finished: the newest pending run of the group starts. */
export async function releaseGroup(deps: SchedulerDeps, tx: Queryable, run: RunRow): Promise<number | null> {
  if (!run.concurrencyGroup) return null;
  const next = await runs.nextInGroup(tx, run.repoId, run.concurrencyGroup);
  if (next) await reopenStages(deps, tx, next, await runs.stagesWaitingFor(tx, next, 'group'));
  return next;
}
