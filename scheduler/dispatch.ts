import type { Queryable } from '../store/index.ts';
import type { SchedulerDeps } from './deps.ts';
import { inTransaction, QUEUES, type ReportJob, type StageJob } from './queues.ts';
import { ensureStageQueue, stageQueue } from './stage-queues.ts';

/** Sends a stage job inside the caller's transaction, to the queue of the worker labels it needs. */
export async function sendStage(deps: SchedulerDeps, tx: Queryable, job: StageJob, labels: string[] = []): Promise<void> {
  const queue = stageQueue(labels);
  await ensureStageQueue(deps.boss, queue);
  await deps.boss.send(queue, job, { db: inTransaction(tx) });
}

/** Asks for the run's statuses to be synced; at most one such job waits per run. */
export async function sendReport(deps: SchedulerDeps, tx: Queryable, runId: number): Promise<void> {
  const job: ReportJob = { runId };
  await deps.boss.send(QUEUES.report, job, { db: inTransaction(tx), singletonKey: `run:${runId}` });
}
