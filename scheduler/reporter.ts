import type { SchedulerDeps } from './deps.ts';
import { QUEUES, type ReportJob } from './queues.ts';
import { reportRun } from './report.ts';

/**
 * Status reports made by the process that changed the state, as soon as its
 * transaction commits. A report job per change (three for a one-stage run:
 * queued, running, done) cost a send, a NOTIFY that woke every report worker
 * of every process, their fetches and a completion: most of a short stage's
 * database work (bench:workers). Nothing is less durable for it: the change
 * set the run's `report_due` in its own transaction, and a finished run whose
 * report never went (this process died) is reported by the monitor pass
 * (overdue-reports.ts). A report that fails here (the forge or the database
 * away, another process reporting the run) becomes a report job, retried
 * with backoff by whichever process takes it.
 */
export interface Reporter {
  /** The run's state changed and committed: report it here, soon. */
  due(runId: number): void;
  /** Stops taking runs (later ones go as report jobs) and waits for the reports under way. */
  stop(): Promise<void>;
}

export function createReporter(deps: SchedulerDeps, opts: { concurrency: number }): Reporter {
  // Per run: waiting for a free slot, being reported, or being reported with a change since its read.
  const runs = new Map<number, 'waiting' | 'reporting' | 'again'>();
  const waiting: number[] = [];
  let active = 0;
  let stopped = false;
  let drained: (() => void) | null = null;
  const sending = new Set<Promise<void>>();

  function asJob(runId: number, why: string): Promise<void> {
    deps.log.warn({ run: runId, err: why }, 'status report not made here: sent as a report job');
    const job: ReportJob = { runId };
    const sent = deps.boss.send(QUEUES.report, job, { singletonKey: `run:${runId}` }).then(() => {}, (err: Error) => {
      deps.log.error({ run: runId, err: err.message }, 'status report could not be queued: the monitor pass reports the run once it is finished');
    });
    sending.add(sent);
    void sent.finally(() => sending.delete(sent));
    return sent;
  }

  function pump(): void {
    while (active < opts.concurrency && waiting.length) {
      const runId = waiting.shift()!;
      runs.set(runId, 'reporting');
      active++;
      reportRun(deps, runId)
        .catch((err: Error) => asJob(runId, err.message))
        .finally(() => {
          active--;
          // Changed while it was read or posted: once more, with the newer state.
          const again = runs.get(runId) === 'again';
          runs.delete(runId);
          if (again && stopped) void asJob(runId, 'this process is stopping');
          else if (again) {
            runs.set(runId, 'waiting');
            waiting.push(runId);
          }
          pump();
          if (!active && !waiting.length) drained?.();
        });
    }
  }

  return {
    due(runId) {
      if (stopped) {
        void asJob(runId, 'this process is stopping');
        return;
      }
      const state = runs.get(runId);
      if (state === 'reporting') runs.set(runId, 'again');
      if (state) return;
      runs.set(runId, 'waiting');
      waiting.push(runId);
      pump();
    },
    async stop() {
      stopped = true;
      // Not started yet: left to a report job, so shutdown waits only for reports under way.
      for (const runId of waiting.splice(0)) {
        runs.delete(runId);
        void asJob(runId, 'this process is stopping');
      }
      if (active) await new Promise<void>((resolve) => { drained = resolve; });
      await Promise.all([...sending]);
    },
  };
}
