import type { Queryable } from './db.ts';

/** What a prune removes (or, dry, would remove). */
export interface PruneCounts {
  deliveries: number;
  /** Runs whose logs and artifacts went; the runs themselves stay. */
  runs: number;
  logChunks: number;
  artifacts: number;
  caches: number;
}

const FINAL = `('success', 'failure', 'canceled', 'skipped')`;

/** What a prune at `cutoff` would remove, counted without deleting. */
export async function countPrunable(db: Queryable, cutoff: Date): Promise<PruneCounts> {
  const { rows } = await db.query<PruneCounts>(
    `WITH old_runs AS (SELECT id FROM runs WHERE pruned_at IS NULL AND created_at < $1 AND status IN ${FINAL})
     SELECT (SELECT count(*) FROM deliveries WHERE received_at < $1)::int AS deliveries,
            (SELECT count(*) FROM old_runs)::int AS runs,
            (SELECT count(*) FROM stage_logs WHERE run_id IN (SELECT id FROM old_runs))::int AS "logChunks",
            (SELECT count(*) FROM artifacts WHERE run_id IN (SELECT id FROM old_runs))::int AS artifacts,
            (SELECT count(*) FROM caches WHERE last_used_at < $1)::int AS caches`, [cutoff]);
  return rows[0]!;
}

/**
 * Deletes at most `batch` deliveries received before `cutoff`: one short
 * statement, rows locked by someone else skipped (another process pruning,
 * a replay). Answers how many went.
 */
export async function pruneDeliveries(db: Queryable, cutoff: Date, batch: number): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM deliveries WHERE id IN (
       SELECT id FROM deliveries WHERE received_at < $1 ORDER BY received_at LIMIT $2 FOR UPDATE SKIP LOCKED)`, [cutoff, batch]);
  return rowCount ?? 0;
}

/**
 * Prunes up to `batch` finished runs created before `cutoff`: their log
 * chunks and artifacts are deleted and the run is marked pruned; the run,
 * its stages and attempts stay. Answers what went.
 */
export async function pruneRuns(db: Queryable, cutoff: Date, batch: number): Promise<{ runs: number; logChunks: number; artifacts: number; blobs: string[] }> {
  const { rows } = await db.query<{ runs: number; logChunks: number; artifacts: number; blobs: string[] }>(
    `WITH picked AS (
       SELECT id FROM runs WHERE pruned_at IS NULL AND created_at < $1 AND status IN ${FINAL}
       ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED),
     logs AS (DELETE FROM stage_logs WHERE run_id IN (SELECT id FROM picked) RETURNING 1),
     kept AS (DELETE FROM artifacts WHERE run_id IN (SELECT id FROM picked) RETURNING blob),
     marked AS (UPDATE runs SET pruned_at = now() WHERE id IN (SELECT id FROM picked) RETURNING 1)
     SELECT (SELECT count(*) FROM marked)::int AS runs, (SELECT count(*) FROM logs)::int AS "logChunks", (SELECT count(*) FROM kept)::int AS artifacts,
            ARRAY(SELECT blob FROM kept) AS blobs`,
    [cutoff, batch]);
  return rows[0]!;
}

/** Deletes up to `batch` caches not used since `cutoff`; answers their blobs, for the caller to delete. */
export async function pruneCaches(db: Queryable, cutoff: Date, batch: number): Promise<string[]> {
  const { rows } = await db.query<{ blob: string }>(
    `DELETE FROM caches WHERE (repo_id, branch, key) IN (
       SELECT repo_id, branch, key FROM caches WHERE last_used_at < $1 ORDER BY last_used_at LIMIT $2 FOR UPDATE SKIP LOCKED)
     RETURNING blob`, [cutoff, batch]);
  return rows.map((r) => r.blob);
}

/** When a run's logs were pruned; null when they were not. */
export async function prunedAt(db: Queryable, runId: number): Promise<Date | null> {
  const { rows } = await db.query<{ prunedAt: Date | null }>('SELECT pruned_at AS "prunedAt" FROM runs WHERE id = $1', [runId]);
  return rows[0]?.prunedAt ?? null;
}
