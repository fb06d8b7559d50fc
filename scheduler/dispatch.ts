import { onTransactionEnd, runs, workers, type Queryable, type RunRow } from '../store/index.ts';
import type { SchedulerDeps } from './deps.ts';
import { inTransaction, QUEUES, type ReportJob, type StageJob } from './queues.ts';
import { CONTAINER_LABEL, ensureStageQueue, FORK_LABEL, stageLabels, stageQueue } from './stage-queues.ts';

/** What a stage no live worker can take waits for, in the words of the flags that would give it one. */
function waitingReason(labels: string[]): string {
  const own = labels.filter((l) => l !== CONTAINER_LABEL && l !== FORK_LABEL);
  const can = [
    ...(labels.includes(CONTAINER_LABEL) ? ['runs images (--backend docker)'] : []),
    ...(labels.includes(FORK_LABEL) ? ['runs forks as a user of their own (--fork-run-as)'] : []),
  ];
  return `waiting for a worker${can.length ? ` that ${can.join(' and ')}` : ''}${own.length ? ` with labels [${own.join(', ')}]` : ''}`;
}

/**
 * Sends a stage job inside the caller's transaction, to the queue of the
 * worker labels it needs (first attempt, retry or requeue alike). While no
 * live worker has them the stage says so, waiting; the first such worker to
 * come takes the job.
 */
export async function sendStage(deps: SchedulerDeps, tx: Queryable, run: RunRow, job: StageJob): Promise<void> {
  const labels = stageLabels(run, job.stage);
  if (labels.length && (await workers.liveWorkersWith(tx, labels, deps.heartbeatSeconds ?? 30)) === 0) {
    await runs.setWaiting(tx, run.id, job.stage, job.attempt, 'labels', waitingReason(labels));
  }
  const queue = stageQueue(labels);
  await ensureStageQueue(deps.boss, queue);
  await deps.boss.send(queue, job, { db: inTransaction(tx) });
}

/**
 * Asks for the run's statuses to be synced: by this process once the
 * transaction commits, where it reports (scheduler/reporter.ts), or else by a
 * report job (at most one waits per run).
 */
export async function sendReport(deps: SchedulerDeps, tx: Queryable, runId: number): Promise<void> {
  const reporter = deps.reporter;
  if (reporter && onTransactionEnd(tx, () => reporter.due(runId), () => {})) return;
  const job: ReportJob = { runId };
  await deps.boss.send(QUEUES.report, job, { db: inTransaction(tx), singletonKey: `run:${runId}` });
}
