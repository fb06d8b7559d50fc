import { audit, runs, withTransaction, workers, type Queryable, type StageStatus } from '../store/index.ts';
import type { SchedulerDeps } from './deps.ts';
import { sendReport } from './dispatch.ts';
import { releaseEnvironment } from './release.ts';
import { deriveRunStatus } from './run-status.ts';

/**
 * Cancels a run's unfinished stages inside the caller's transaction. The
 * workers running any of them see it at their next heartbeat (within a
 * second) and kill the step's process tree.
 */
export async function cancelRunIn(deps: SchedulerDeps, tx: Queryable, runId: number, reason: string, statuses?: StageStatus[]): Promise<string[]> {
  return cancelStagesIn(deps, tx, runId, reason, null, statuses);
}

/** As cancelRunIn, for the named stages only (null: all of the run's). */
export async function cancelStagesIn(deps: SchedulerDeps, tx: Queryable, runId: number, reason: string, only: string[] | null, statuses?: StageStatus[]): Promise<string[]> {
  await runs.lockRun(tx, runId);
  const canceled = await runs.cancelStages(tx, runId, reason, only, statuses);
  const run = await runs.getRun(tx, runId);
  // A canceled deployment gives its environment's lock to the next one, once no step of it can still be running.
  const stages = await runs.getStages(tx, runId);
  for (const name of canceled) {
    await releaseEnvironment(deps, tx, run!, { name, attempt: stages.find((s) => s.name === name)!.attempt, status: 'canceled' }, { unclaimedOnly: true });
  }
  if (canceled.length) {
    // Workers running a canceled stage beat at once (delivered on commit).
    await workers.notifyCancel(tx, runId);
    await runs.setRunStatus(tx, runId, deriveRunStatus(await runs.getStages(tx, runId)));
    await sendReport(deps, tx, runId);
  }
  return canceled;
}

/** POST /api/runs/<id>/cancel and `forgeline cancel RUN`. */
export async function cancelRun(deps: SchedulerDeps, runId: number, actor: string): Promise<{ id: number; canceled: string[] } | null> {
  return withTransaction(deps.pool, async (tx) => {
    if (!(await runs.getRun(tx, runId))) return null;
    const canceled = await cancelRunIn(deps, tx, runId, `canceled by ${actor}`);
    await audit(tx, { actor, action: 'run.cancel', reason: `run ${runId}: ${canceled.join(', ') || 'nothing left to cancel'}` });
    return { id: runId, canceled };
  });
}
