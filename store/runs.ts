import type { Queryable } from './db.ts';

export type StageStatus = 'queued' | 'waiting' | 'running' | 'success' | 'failure' | 'canceled' | 'skipped';
export const FINAL_STATUSES: readonly StageStatus[] = ['success', 'failure', 'canceled', 'skipped'];

export interface RunRow {
  id: number;
  repoId: string;
  deliveryId: string | null;
  pipeline: string;
  file: string;
  event: any;
  sha: string;
  definition: any;
  status: StageStatus;
  reason: string | null;
  problems: string[];
  attempt: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface StageRow {
  runId: number;
  name: string;
  position: number;
  needs: string[];
  status: StageStatus;
  reason: string | null;
  attempt: number;
  worker: string | null;
  startedAt: Date | null;
  finishedAt: Date | null;
}

const RUN_COLUMNS = `id, repo_id AS "repoId", delivery_id AS "deliveryId", pipeline, file, event, sha, definition,
  status, reason, problems, attempt, created_at AS "createdAt", updated_at AS "updatedAt"`;
const STAGE_COLUMNS = `run_id AS "runId", name, position, needs, status, reason, attempt, worker,
  started_at AS "startedAt", finished_at AS "finishedAt"`;

export interface NewRun {
  repoId: string;
  deliveryId: string | null;
  eventIndex: number;
  pipeline: string;
  file: string;
  event: unknown;
  sha: string;
  definition: unknown;
  /** The run's own state: `queued` for one with stages, final for one that reports without running. */
  status: StageStatus;
  reason?: string | null;
  problems?: string[];
  stages: Array<{ name: string; needs: string[]; status: StageStatus; reason: string | null }>;
}

/** Inserts a run and its stages; null when this delivery's event already planned it. */
export async function insertRun(db: Queryable, run: NewRun): Promise<number | null> {
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO runs (repo_id, delivery_id, event_index, pipeline, file, event, sha, definition, status, reason, problems)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
     ON CONFLICT (delivery_id, event_index, pipeline) DO NOTHING RETURNING id`,
    [run.repoId, run.deliveryId, run.eventIndex, run.pipeline, run.file, JSON.stringify(run.event), run.sha,
      JSON.stringify(run.definition), run.status, run.reason ?? null, JSON.stringify(run.problems ?? [])]);
  const id = rows[0]?.id;
  if (id === undefined) return null;
  if (run.stages.length) {
    await db.query(
      `INSERT INTO stages (run_id, name, position, needs, status, reason, finished_at)
       SELECT $1, s.item->>'name', s.position - 1, ARRAY(SELECT jsonb_array_elements_text(s.item->'needs')),
         s.item->>'status', s.item->>'reason', CASE WHEN s.item->>'status' = 'skipped' THEN now() END
       FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS s(item, position)`,
      [id, JSON.stringify(run.stages)]);
  }
  return id;
}

export async function getRun(db: Queryable, id: number): Promise<RunRow | null> {
  const { rows } = await db.query<RunRow>(`SELECT ${RUN_COLUMNS} FROM runs WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

export async function getStages(db: Queryable, runId: number): Promise<StageRow[]> {
  const { rows } = await db.query<StageRow>(`SELECT ${STAGE_COLUMNS} FROM stages WHERE run_id = $1 ORDER BY position`, [runId]);
  return rows;
}

export async function runIdsOfDelivery(db: Queryable, deliveryId: string): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>('SELECT id FROM runs WHERE delivery_id = $1 ORDER BY id', [deliveryId]);
  return rows.map((r) => r.id);
}

/** Locks the run's row so that concurrent stage results advance it one at a time. */
export async function lockRun(db: Queryable, runId: number): Promise<void> {
  await db.query('SELECT 1 FROM runs WHERE id = $1 FOR UPDATE', [runId]);
}

/**
 * Moves a stage from one of `from` to `to`. Returns false when the stage was
 * not in one of those states (or at that attempt): the caller's job already ran.
 */
export async function transitionStage(db: Queryable, t: {
  runId: number; name: string; attempt: number; from: StageStatus[]; to: StageStatus; reason?: string | null; worker?: string | null;
}): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE stages SET status = $5, reason = $6,
       worker = COALESCE($7, worker),
       started_at = CASE WHEN $5 = 'running' THEN now() ELSE started_at END,
       finished_at = CASE WHEN $5 = ANY($8::text[]) THEN now() ELSE NULL END
     WHERE run_id = $1 AND name = $2 AND attempt = $3 AND status = ANY($4::text[])`,
    [t.runId, t.name, t.attempt, t.from, t.to, t.reason ?? null, t.worker ?? null, FINAL_STATUSES]);
  return rowCount === 1;
}

export async function setRunStatus(db: Queryable, runId: number, status: StageStatus): Promise<void> {
  await db.query('UPDATE runs SET status = $2, updated_at = now() WHERE id = $1 AND status <> $2', [runId, status]);
}

export interface RunFilter {
  repoId?: string | null;
  sha?: string | null;
  status?: string | null;
  beforeId?: number | null;
  limit: number;
}

export async function listRuns(db: Queryable, f: RunFilter): Promise<RunRow[]> {
  const { rows } = await db.query<RunRow>(
    `SELECT ${RUN_COLUMNS} FROM runs
     WHERE ($1::text IS NULL OR repo_id = $1) AND ($2::text IS NULL OR sha = $2)
       AND ($3::text IS NULL OR status = $3) AND ($4::bigint IS NULL OR id < $4)
     ORDER BY id DESC LIMIT $5`,
    [f.repoId ?? null, f.sha ?? null, f.status ?? null, f.beforeId ?? null, f.limit]);
  return rows;
}
