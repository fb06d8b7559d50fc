import type { Queryable, RunRow } from '../store/index.ts';
import type { SchedulerDeps } from './deps.ts';
import { inTransaction, QUEUES, type ReportJob, type StageJob } from './queues.ts';
import { ensureStageQueue, stageLabels, stageQueue } from './stage-queues.ts';

/** Sends a stage job inside the caller's transaction, to the queue of the worker labels it needs (first attempt, retry or requeue alike). */
export async function sendStage(deps: SchedulerDeps, tx: Queryable, run: RunRow, job: StageJob): Promise<void> {
  const queue = stageQueue(stageLabels(run, job.stage));
  await ensureStageQueue(deps.boss, queue);
  await deps.boss.send(queue, job, { db: inTransaction(tx) });
}

/** Asks for the run's statuses to be synced; at most one such job waits per run. */
export async function sendReport(deps: SchedulerDeps, tx: Queryable, runId: number): Promise<void> {
  const job: ReportJob = { runId };
  await deps.boss.send(QUEUES.report, job, { db: inTransaction(tx), singletonKey: `run:${runId}` });
}
