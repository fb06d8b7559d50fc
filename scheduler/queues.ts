import { PgBoss, type Db, type Queue } from 'pg-boss';
import { statementName, type Queryable } from '../store/index.ts';

/** The pg-boss queues: each arrow of ARCHITECTURE.md's flow that crosses a process. */
export const QUEUES = {
  plan: 'plan',
  stage: 'stage',
  report: 'report',
  schedule: 'schedule',
} as const;

/**
 * One plan job per committed batch of deliveries, planned in arrival order.
 * `unlessPlanned`: sent by the monitor pass for a delivery whose first job was lost.
 */
export interface PlanJob { deliveryIds: string[]; unlessPlanned?: boolean }
export interface StageJob { runId: number; stage: string; attempt: number }
export interface ReportJob { runId: number }
/** Sent by a pg-boss schedule: one per `on.schedule` entry of a pipeline on the default branch. */
export interface ScheduleJob { repoId: string; pipeline: string; cron: string }

const QUEUE_OPTIONS: Record<string, Omit<Queue, 'name'>> = {
  [QUEUES.plan]: { notify: true, retryLimit: 5, retryDelay: 1, retryBackoff: true },
  // A stage job is not retried by pg-boss: a stage's own `retries` and the reaper decide.
  [QUEUES.stage]: { notify: true, retryLimit: 0, expireInSeconds: 24 * 3600 },
  // `stately`: per run, one report queued and one running at most. A report
  // reads the state when it runs, so a queued one already covers later changes.
  [QUEUES.schedule]: { notify: true, retryLimit: 3, retryDelay: 5, retryBackoff: true },
  [QUEUES.report]: { notify: true, policy: 'stately', retryLimit: 12, retryDelay: 1, retryBackoff: true, retryDelayMax: 300 },
};

export async function startBoss(url: string, onError: (err: Error) => void): Promise<PgBoss> {
  const boss = new PgBoss({
    connectionString: url,
    schema: 'pgboss',
    useListenNotify: true,
    max: 6,
    // Forgeline processes many and short-lived: no registry rows to clean up after them.
    registerInstance: false,
  });
  boss.on('error', onError);
  await boss.start();
  for (const [name, options] of Object.entries(QUEUE_OPTIONS)) {
    if (await boss.getQueue(name)) continue;
    try {
      await boss.createQueue(name, options);
    } catch (err) {
      // Another process created it at the same moment.
      if (!(await boss.getQueue(name))) throw err;
    }
  }
  return boss;
}

/** pg-boss's view of a transaction's client, so a job commits with the state change that caused it. */
export function inTransaction(tx: Queryable): Db {
  // Prepared by name: pg-boss's insert is planned once per connection, not on every send
  // (a third of a send's time on the hook path). Its text is a constant per kind of send.
  return { executeSql: (text, values) => tx.query({ name: statementName('pgboss', text), text, values: values ?? [] }) };
}
