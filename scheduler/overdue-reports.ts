import { statusReports } from '../store/index.ts';
import type { SchedulerDeps } from './deps.ts';
import { reportRun } from './report.ts';

// At most this many runs are reported per pass, one after the other.
const PER_PASS = 50;

/**
 * One monitor pass: a finished run whose final state has been due at the
 * forge for `olderThanSeconds` is reported here and now. Its report jobs
 * failed every retry (the forge or the database was down), or pg-boss failed
 * them at once (a stately queue keeps one retry per run), or one is held
 * `active` by a process that died, which keeps the run's slot in the report
 * queue taken until pg-boss expires it — and so would any job this pass sent.
 * The report lock keeps this from racing a report job; a run that fails
 * again waits `olderThanSeconds` more before the next try.
 */
export async function reportOverdueRuns(deps: SchedulerDeps, olderThanSeconds: number): Promise<number> {
  const ids = await statusReports.overdueReports(deps.pool, olderThanSeconds, PER_PASS);
  let reported = 0;
  for (const runId of ids) {
    try {
      await reportRun(deps, runId);
      reported++;
    } catch (err) {
      deps.log.warn({ run: runId, err: (err as Error).message }, 'overdue status report failed again');
      await statusReports.postponeReport(deps.pool, runId, olderThanSeconds);
    }
  }
  if (ids.length) deps.log.warn({ runs: ids.length, reported }, 'overdue status reports sent again');
  return reported;
}
