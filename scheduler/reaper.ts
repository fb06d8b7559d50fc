import type { Pipeline } from '../pipelines/index.ts';
import { runs, withTransaction, workers } from '../store/index.ts';
import type { SchedulerDeps } from './deps.ts';
import { finishStage } from './finish-stage.ts';

/**
 * One monitor pass: every stage still `running` on a worker that stopped or
 * has not been heard from for `heartbeatSeconds` is retried if it has
 * retries left, else failed "worker lost". A stage with an environment is
 * never retried after a lost worker: a deploy need not be idempotent.
 */
export async function reapLostStages(deps: SchedulerDeps, heartbeatSeconds: number): Promise<number> {
  return reap(deps, await workers.lostStages(deps.pool, heartbeatSeconds));
}

/** The stages running on this worker in the database but not in this process (workers.untrackedStages), reaped the same way. */
export async function reapUntrackedStages(deps: SchedulerDeps, tracked: Array<{ runId: number; name: string; attempt: number }>, graceSeconds: number): Promise<number> {
  return reap(deps, await workers.untrackedStages(deps.pool, deps.workerName, tracked, graceSeconds));
}

async function reap(deps: SchedulerDeps, stages: Array<{ runId: number; name: string; attempt: number; worker: string | null }>): Promise<number> {
  let reaped = 0;
  for (const lost of stages) {
    const { done, delivery } = await withTransaction(deps.pool, async (tx) => {
      const run = await runs.getRun(tx, lost.runId);
      const def = (run?.definition as Pipeline | null)?.stages.find((s) => s.name === lost.name);
      const finished = await finishStage(deps, tx, lost, ['running'], { status: 'failure', reason: 'worker lost' }, { retryable: !def?.environment });
      return { done: finished, delivery: run?.deliveryId ?? null };
    });
    if (done) {
      reaped++;
      deps.log.warn({ delivery, run: lost.runId, stage: lost.name, attempt: lost.attempt, worker: lost.worker }, 'worker lost');
    }
  }
  return reaped;
}
