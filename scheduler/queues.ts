import { PgBoss, type Db, type Queue } from 'pg-boss';
import { statementName, type deliveries, type Session, type Pool, type Queryable } from '../store/index.ts';

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

// A job held by a process that died (SIGKILL, a lost machine) stays `active`:
// without heartbeats pg-boss would wait for its expiry (15 minutes, or a day for
// stages) before anyone ran it again. Workers beat for their jobs on their own.
const JOB_HEARTBEAT_SECONDS = 10;

/**
 * Every stage queue, with or without worker labels. A stage job is retried by
 * pg-boss when its worker died before claiming the stage or its handler
 * failed (the database was away): the claim only takes a queued stage, so a
 * retry of a stage already claimed changes nothing. A claimed stage's own
 * `retries` and the reaper decide the rest.
 */
export const STAGE_QUEUE_OPTIONS: Omit<Queue, 'name'> = {
  notify: true, retryLimit: 10, retryDelay: 1, retryBackoff: true, retryDelayMax: 30, expireInSeconds: 24 * 3600, heartbeatSeconds: JOB_HEARTBEAT_SECONDS,
};

const QUEUE_OPTIONS: Record<string, Omit<Queue, 'name'>> = {
  [QUEUES.plan]: { notify: true, retryLimit: 5, retryDelay: 1, retryBackoff: true, heartbeatSeconds: JOB_HEARTBEAT_SECONDS },
  [QUEUES.stage]: STAGE_QUEUE_OPTIONS,
  [QUEUES.schedule]: { notify: true, retryLimit: 3, retryDelay: 5, retryBackoff: true },
  // `stately`: per run, one report queued and one running at most. A report
  // reads the state when it runs, so a queued one already covers later changes.
  [QUEUES.report]: { notify: true, policy: 'stately', retryLimit: 12, retryDelay: 1, retryBackoff: true, retryDelayMax: 300, heartbeatSeconds: JOB_HEARTBEAT_SECONDS },
};

/**
 * `scheduleCheckSeconds`: how often pg-boss looks for schedules come due
 * (FORGELINE_SCHEDULE_CHECK_SECONDS, default 5). A schedule fires at the
 * first look after its minute, so at pg-boss's own default (30 s) a nightly
 * build could start half a minute late; each look is one small query.
 */
export async function startBoss(db: { pool: Pool; session: Session }, onError: (err: Error) => void, opts: { scheduleCheckSeconds?: number } = {}): Promise<PgBoss> {
  const scheduleCheckSeconds = opts.scheduleCheckSeconds ?? 5;
  const boss = new PgBoss({
    // The process's own pool and LISTEN connection, not pg-boss's: a worker's connections are
    // the few it is sized for (`--db-connections`), whatever pg-boss and Forgeline each need.
    db: {
      executeSql: (text, values) => db.pool.query(text, values),
      listen: (channel, onNotification, onReconnect) => db.session.listen(channel, onNotification, onReconnect),
    },
    schema: 'pgboss',
    useListenNotify: true,
    // Forgeline processes many and short-lived: no registry rows to clean up after them.
    registerInstance: false,
    // How often a job whose heartbeats stopped is failed and retried (pg-boss's default: a minute).
    superviseIntervalSeconds: JOB_HEARTBEAT_SECONDS,
    cronMonitorIntervalSeconds: scheduleCheckSeconds,
    // The job a schedule sends is forwarded to its queue by pg-boss's own worker: as often.
    cronWorkerIntervalSeconds: scheduleCheckSeconds,
  });
  boss.on('error', onError);
  await boss.start();
  for (const [name, options] of Object.entries(QUEUE_OPTIONS)) await ensureQueue(boss, name, options);
  return boss;
}

/** Creates the queue, or brings an existing one's settings up to these (a queue made by an older version). */
export async function ensureQueue(boss: PgBoss, name: string, options: Omit<Queue, 'name'>): Promise<void> {
  const { policy: _fixedAtCreation, ...settings } = options;
  if (await boss.getQueue(name)) return boss.updateQueue(name, settings);
  try {
    await boss.createQueue(name, options);
  } catch (err) {
    // Another process created it at the same moment.
    if (!(await boss.getQueue(name))) throw err;
  }
}

/** pg-boss's view of a transaction's client, so a job commits with the state change that caused it. */
export function inTransaction(tx: Queryable): Db {
  // Prepared by name: pg-boss's insert is planned once per connection, not on every send
  // (a third of a send's time on the hook path). Its text is a constant per kind of send.
  return { executeSql: (text, values) => tx.query({ name: statementName('pgboss', text), text, values: values ?? [] }) };
}

// The shape of pg-boss's insert for a queue that notifies: `WITH ins AS (<insert>), notified AS (<notify>) SELECT …`.
const NOTIFYING_INSERT = /^\s*WITH ins AS \(([\s\S]*)\),\s*notified AS \(([\s\S]*?)\)\s*SELECT id FROM ins WHERE \(SELECT count\(\*\) FROM notified\) >= 0\s*$/;

/**
 * pg-boss's own insert of one job on `queue`, as CTEs for another
 * statement: the hook path commits a batch of deliveries and its plan job
 * in one statement, one round trip and atomic without BEGIN and COMMIT,
 * which pg-boss's API cannot do. The text is pg-boss's, captured from a
 * send that runs nothing, so the queue's settings and its NOTIFY are
 * pg-boss's; only its parameter, the jobs as JSON, becomes an expression
 * over the caller's data. Null when pg-boss's text is not of the shape
 * this expects (another pg-boss version): the caller sends as usual then.
 */
export async function inlineJob(boss: PgBoss, queue: string): Promise<deliveries.InlineJob | null> {
  let captured: { text: string; values: unknown[] } | undefined;
  const capture: Db = {
    executeSql: async (text, values) => {
      captured = { text, values: values ?? [] };
      return { rows: [{ id: '00000000-0000-0000-0000-000000000000' }] } as never;
    },
  };
  await boss.send(queue, {}, { db: capture });
  const shape = captured && captured.values.length === 1 && NOTIFYING_INSERT.exec(captured.text);
  const jobs = shape && (JSON.parse(captured!.values[0] as string) as Array<Record<string, unknown>>);
  if (!shape || !jobs || jobs.length !== 1 || (shape[1]!.match(/\$1\b/g) ?? []).length !== 1 || /\$[2-9]/.test(shape[1]!)) return null;
  // Everything pg-boss put in the job but its data and its id (made anew by the insert).
  const { data: _data, id: _id, ...fields } = jobs[0]!;
  const tag = queue.replace(/\W/g, '_');
  return {
    ctes(dataSql, first) {
      const json = `(SELECT COALESCE(jsonb_agg($${first}::jsonb || jsonb_build_object('data', d)), '[]'::jsonb) FROM ${dataSql} AS j(d) WHERE d IS NOT NULL)::text`;
      return {
        text: `${tag}_job AS (${shape[1]!.replace(/\$1\b/, json)}),
    ${tag}_notified AS (${shape[2]!.replace(/\bFROM ins\b/, `FROM ${tag}_job`)})`,
        values: [JSON.stringify(fields)],
      };
    },
    touch: `(SELECT count(*) FROM ${tag}_notified)`,
  };
}
