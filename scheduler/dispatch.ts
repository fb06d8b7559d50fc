import { QUEUES, inTransaction, type ReportJob, type StageJob } from './queues.ts';
import type { Queryable } from '../store/index.ts';
import type { SchedulerDeps } from './deps.ts';

/** Sends a stage job inside the caller's transaction. */
export async function sendStage(deps: SchedulerDeps, tx: Queryable, job: StageJob): Promise<void> {
  await deps.boss.send(QUEUES.stage, job, { db: inTransaction(tx) });
}

/** Asks for the run's statuses to be synced; at most one such job waits per run. */
export async function sendReport(deps: SchedulerDeps, tx: Queryable, runId: number): Promise<void> {
  const job: ReportJob = { runId };
  await deps.boss.send(QUEUES.report, job, { db: inTransaction(tx), singletonKey: `run:${runId}` });
}
