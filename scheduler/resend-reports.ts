import { statusReports } from '../store/index.ts';
import type { SchedulerDeps } from './deps.ts';
import { QUEUES, type ReportJob } from './queues.ts';

// At most this many reports are sent again per pass.
const PER_PASS = 100;

/**
 * One monitor pass: a finished run whose final state has been due at the forge
 * for `olderThanSeconds` gets a new report job. Its last one failed every
 * retry (the forge or the database was down) or is held `active` by a process
 * that died, which keeps the run's own singleton slot taken for pg-boss's
 * expiry time: the new job has a slot of its own.
 */
export async function resendOverdueReports(deps: SchedulerDeps, olderThanSeconds: number): Promise<number> {
  const ids = await statusReports.overdueReports(deps.pool, olderThanSeconds, PER_PASS);
  for (const runId of ids) {
    const job: ReportJob = { runId };
    // Every worker runs this pass: one job per run and interval between them.
    await deps.boss.send(QUEUES.report, job, { singletonKey: `resend:${runId}`, singletonSeconds: olderThanSeconds });
  }
  if (ids.length) deps.log.warn({ runs: ids.length }, 'overdue status reports sent again');
  return ids.length;
}
