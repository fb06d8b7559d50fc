import { environments, runs, type Queryable, type StageStatus } from '../store/index.ts';
import { advanceRun } from './advance.ts';
import type { SchedulerDeps } from './deps.ts';
import { sendReport, sendStage } from './dispatch.ts';
import { releaseEnvironment } from './release.ts';

export interface StageAttempt {
  runId: number;
  name: string;
  attempt: number;
}

/**
 * Records a stage's outcome, inside the caller's transaction. A failure
 * with retries left starts the next attempt instead; everything else is
 * final and advances the run. False when the stage had already moved on
 * (canceled meanwhile, or handled by another worker or the reaper).
 */
export async function finishStage(
  deps: SchedulerDeps, tx: Queryable, stage: StageAttempt, from: StageStatus[],
  outcome: { status: 'success' | 'failure' | 'canceled'; reason: string | null }, opts: { retryable: boolean } = { retryable: true },
): Promise<boolean> {
  await runs.lockRun(tx, stage.runId);
  const run = await runs.getRun(tx, stage.runId);
  const def = run?.definition?.stages.find((s) => s.name === stage.name);
  // `retries` counts from the attempt the stage's latest run or rerun began at.
  const retryable = outcome.status === 'failure' && opts.retryable && def !== undefined && def.retries > 0
    && stage.attempt - (await runs.firstAttempt(tx, stage.runId, stage.name)) < def.retries;
  if (retryable) {
    const requeued = await runs.requeueStage(tx, { ...stage, from, reason: `attempt ${stage.attempt} failed: ${outcome.reason ?? 'failure'}; retrying` });
    if (requeued) {
      // The failed attempt's step has ended: the next attempt keeps the environment's lock.
      if (def.environment) await environments.passLock(tx, stage.runId, stage.name, stage.attempt);
      await sendStage(deps, tx, run!, { runId: stage.runId, stage: stage.name, attempt: stage.attempt + 1 });
      await sendReport(deps, tx, stage.runId);
    }
    return requeued;
  }
  const done = await runs.transitionStage(tx, { ...stage, from, to: outcome.status, reason: outcome.reason });
  if (done) {
    await releaseEnvironment(deps, tx, run!, { ...stage, status: outcome.status });
    await advanceRun(deps, tx, stage.runId, stage.name);
  }
  return done;
}
