import type { Queryable } from './db.ts';

export interface WorkerRow {
  id: string;
  host: string;
  pid: number;
  labels: string[];
  concurrency: number;
  heartbeatAt: Date;
}

export async function registerWorker(db: Queryable, w: { id: string; host: string; pid: number; labels: string[]; concurrency: number }): Promise<void> {
  await db.query('INSERT INTO workers (id, host, pid, labels, concurrency) VALUES ($1, $2, $3, $4, $5)', [w.id, w.host, w.pid, w.labels, w.concurrency]);
}

/** Records that the worker is alive; answers which of its stages are no longer `running` at their attempt (canceled, or taken away). */
export async function heartbeat(db: Queryable, id: string, running: Array<{ runId: number; name: string; attempt: number }>): Promise<Array<{ runId: number; name: string; attempt: number }>> {
  await db.query('UPDATE workers SET heartbeat_at = now() WHERE id = $1', [id]);
  if (!running.length) return [];
  const { rows } = await db.query<{ runId: number; name: string; attempt: number }>(
    `SELECT r.run_id AS "runId", r.name, r.attempt FROM unnest($1::bigint[], $2::text[], $3::int[]) AS r(run_id, name, attempt)
     LEFT JOIN stages s ON s.run_id = r.run_id AND s.name = r.name
     WHERE s.status IS DISTINCT FROM 'running' OR s.attempt <> r.attempt OR s.worker IS DISTINCT FROM $4`,
    [running.map((r) => r.runId), running.map((r) => r.name), running.map((r) => r.attempt), id]);
  return rows;
}

export async function stopWorker(db: Queryable, id: string): Promise<void> {
  await db.query('UPDATE workers SET stopped_at = now() WHERE id = $1', [id]);
}

/** Running stages whose worker stopped or went quiet for `seconds`. */
export async function lostStages(db: Queryable, seconds: number): Promise<Array<{ runId: number; name: string; attempt: number; worker: string | null }>> {
  const { rows } = await db.query(
    `SELECT s.run_id AS "runId", s.name, s.attempt, s.worker FROM stages s LEFT JOIN workers w ON w.id = s.worker
     WHERE s.status = 'running' AND (w.id IS NULL OR w.stopped_at IS NOT NULL OR w.heartbeat_at < now() - make_interval(secs => $1))`,
    [seconds]);
  return rows;
}

/**
 * Whether a worker is still lost, asked again inside the transaction that
 * reaps its stage: its row is locked, so a heartbeat that got through after
 * the monitor's look either comes first (and the stage stays its own) or
 * waits, then learns that the stage was taken.
 */
export async function stillLost(db: Queryable, id: string | null, seconds: number): Promise<boolean> {
  if (id === null) return true;
  const { rows } = await db.query<{ lost: boolean }>(
    `SELECT stopped_at IS NOT NULL OR heartbeat_at < now() - make_interval(secs => $2) AS lost FROM workers WHERE id = $1 FOR UPDATE`,
    [id, seconds]);
  return rows[0]?.lost ?? true;
}

/**
 * Stages `running` on this live worker that it does not run: claimed for it,
 * but never started (its start failed, or the claim committed though the
 * worker was told it had not). `seconds` spares stages just claimed.
 */
export async function untrackedStages(db: Queryable, id: string, tracked: Array<{ runId: number; name: string; attempt: number }>, seconds: number): Promise<Array<{ runId: number; name: string; attempt: number; worker: string | null }>> {
  const { rows } = await db.query(
    `SELECT s.run_id AS "runId", s.name, s.attempt, s.worker FROM stages s
     WHERE s.status = 'running' AND s.worker = $1 AND s.started_at < now() - make_interval(secs => $5)
       AND NOT EXISTS (SELECT 1 FROM unnest($2::bigint[], $3::text[], $4::int[]) AS t(run_id, name, attempt)
                       WHERE t.run_id = s.run_id AND t.name = s.name AND t.attempt = s.attempt)`,
    [id, tracked.map((t) => t.runId), tracked.map((t) => t.name), tracked.map((t) => t.attempt), seconds]);
  return rows;
}

/** Workers heard from within `seconds` whose labels include all of `labels`. */
export async function liveWorkersWith(db: Queryable, labels: string[], seconds: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM workers WHERE stopped_at IS NULL AND heartbeat_at > now() - make_interval(secs => $2) AND labels @> $1::text[]`,
    [labels, seconds]);
  return rows[0]!.n;
}

/** Workers LISTEN here: a run id on it means "beat now", one of your stages was canceled. */
export const CANCEL_CHANNEL = 'forgeline_cancel';

/** Tells every worker, on commit, that stages of the run were canceled. */
export async function notifyCancel(db: Queryable, runId: number): Promise<void> {
  await db.query(`SELECT pg_notify('${CANCEL_CHANNEL}', $1)`, [String(runId)]);
}
