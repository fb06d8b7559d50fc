import { environments, runs, withTransaction, workers } from '../store/index.ts';
import type { SchedulerDeps } from './deps.ts';
import { sendReport, sendStage } from './dispatch.ts';
import { finishStage } from './finish-stage.ts';
import { freeLock } from './release.ts';
import { environmentOf } from './run-definition.ts';
import { deriveRunStatus } from './run-status.ts';

/**
 * One monitor pass: every stage still `running` on a worker that stopped or
 * has not been heard from for `heartbeatSeconds` is retried if it has
 * retries left, else failed "worker lost". A stage with an environment is
 * never retried after a lost worker: a deploy need not be idempotent.
 */
export async function reapLostStages(deps: SchedulerDeps, heartbeatSeconds: number): Promise<number> {
  let reaped = 0;
  for (const lost of await workers.lostStages(deps.pool, heartbeatSeconds)) {
    const { done, delivery } = await withTransaction(deps.pool, async (tx) => {
      if (!(await workers.stillLost(tx, lost.worker, heartbeatSeconds))) return { done: false, delivery: null };
      const run = await runs.getRun(tx, lost.runId);
      const finished = await finishStage(deps, tx, lost, ['running'], { status: 'failure', reason: 'worker lost' }, { retryable: !(run && environmentOf(run, lost.name)) });
      return { done: finished, delivery: run?.deliveryId ?? null };
    });
    if (done) {
      reaped++;
      deps.log.warn({ delivery, run: lost.runId, stage: lost.name, attempt: lost.attempt, worker: lost.worker }, 'worker lost');
    }
  }
  return reaped;
}

/**
 * Environment locks kept by deployments canceled while they ran, whose
 * worker stopped or went quiet: its steps died with it (or are held until it
 * hears the stage is over), and the next deployment may go.
 */
export async function freeLocksOfLostWorkers(deps: SchedulerDeps, heartbeatSeconds: number): Promise<number> {
  let freed = 0;
  for (const lock of await environments.locksOfLostWorkers(deps.pool, heartbeatSeconds)) {
    const done = await withTransaction(deps.pool, async (tx) => {
      const held = await environments.heldBy(tx, lock);
      if (!held || held.unfinished || !(await workers.stillLost(tx, held.worker, heartbeatSeconds))) return false;
      return freeLock(deps, tx, lock);
    });
    if (done) {
      freed++;
      deps.log.warn({ run: lock.runId, stage: lock.stage, attempt: lock.attempt, environment: lock.environment }, 'environment lock of a canceled deployment on a lost worker freed');
    }
  }
  return freed;
}

type Attempt = { runId: number; name: string; attempt: number };

/**
 * A stage claimed for this worker that it never started goes back to its
 * queue at the same attempt, since it never ran. False when it is not
 * running here (it finished, or was canceled meanwhile).
 */
export async function requeueUnstarted(deps: SchedulerDeps, stage: Attempt): Promise<boolean> {
  return withTransaction(deps.pool, async (tx) => {
    await runs.lockRun(tx, stage.runId);
    if (!(await runs.unclaimStage(tx, { ...stage, worker: deps.workerName }))) return false;
    await environments.unclaimLock(tx, stage.runId, stage.name, stage.attempt);
    const run = (await runs.getRun(tx, stage.runId))!;
    await sendStage(deps, tx, run, { runId: stage.runId, stage: stage.name, attempt: stage.attempt });
    await runs.setRunStatus(tx, stage.runId, deriveRunStatus(await runs.getStages(tx, stage.runId)));
    await sendReport(deps, tx, stage.runId);
    return true;
  });
}

/**
 * The stages running on this worker in the database that this process does
 * not run (workers.untrackedStages): claimed for it, never started. Each is
 * queued again. `tracked` is asked again once the query answers, so a stage
 * that started meanwhile is left alone.
 */
export async function requeueUntrackedStages(deps: SchedulerDeps, tracked: () => Attempt[], graceSeconds: number): Promise<number> {
  let requeued = 0;
  const key = (s: Attempt) => `${s.runId}\0${s.name}\0${s.attempt}`;
  // Deployments claimed here and canceled before they started: no step of theirs to wait for.
  const locks = await environments.untrackedLocks(deps.pool, deps.workerName, tracked(), graceSeconds);
  const running = new Set(tracked().map(key));
  for (const lock of locks.filter((l) => !running.has(key({ runId: l.runId, name: l.stage, attempt: l.attempt })))) {
    await withTransaction(deps.pool, async (tx) => {
      const held = await environments.heldBy(tx, lock);
      if (held?.worker === deps.workerName && !held.unfinished) await freeLock(deps, tx, lock);
    });
  }
  const found = await workers.untrackedStages(deps.pool, deps.workerName, tracked(), graceSeconds);
  const now = new Set(tracked().map(key));
  for (const stage of found.filter((s) => !now.has(key(s)))) {
    if (!(await requeueUnstarted(deps, stage))) continue;
    requeued++;
    deps.log.warn({ run: stage.runId, stage: stage.name, attempt: stage.attempt }, 'stage claimed for this worker but never started: queued again');
  }
  return requeued;
}
