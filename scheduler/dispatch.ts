import { runs, workers, type Queryable, type RunRow } from '../store/index.ts';
import type { SchedulerDeps } from './deps.ts';
import { inTransaction, QUEUES, type ReportJob, type StageJob } from './queues.ts';
import { ensureStageQueue, stageLabels, stageQueue } from './stage-queues.ts';

/**
 * Sends a stage job inside the caller's transaction, to the queue of the
 * worker labels it needs (first attempt, retry or requeue alike). While no
 * live worker has them the stage says so, waiting; the first such worker to
 * come takes the job.
 */
export async function sendStage(deps: SchedulerDeps, tx: Queryable, run: RunRow, job: StageJob): Promise<void> {
  const labels = stageLabels(run, job.stage);
  if (labels.length && (await workers.liveWorkersWith(tx, labels, deps.heartbeatSeconds ?? 30)) === 0) {
    await runs.setWaiting(tx, run.id, job.stage, job.attempt, 'labels', `waiting for a worker with labels [${labels.join(', ')}]`);
  }
  const queue = stageQueue(labels);
  await ensureStageQueue(deps.boss, queue);
  await deps.boss.send(queue, job, { db: inTransaction(tx) });
}

/** Asks for the run's statuses to be synced; at most one such job waits per run. */
export async function sendReport(deps: SchedulerDeps, tx: Queryable, runId: number): Promise<void> {
  const job: ReportJob = { runId };
  await deps.boss.send(QUEUES.report, job, { db: inTransaction(tx), singletonKey: `run:${runId}` });
}
