import type { Queryable } from './db.ts';

export interface CacheEntry {
  branch: string;
  key: string;
  bytes: number;
  files: number;
  runId: number | null;
  createdAt: Date;
  lastUsedAt: Date;
}

const COLUMNS = `branch, key, bytes::float8 AS bytes, files, run_id::int AS "runId", created_at AS "createdAt", last_used_at AS "lastUsedAt"`;

/**
 * The archive a stage restores (docs/pipelines.md, "Caches"): on each branch
 * in turn, the exact key, else the newest key starting with `prefix`. Marks
 * the one found as used (least recently used caches go first).
 */
export async function findCache(db: Queryable, repoId: string, branches: string[], key: string, prefix: string): Promise<{ branch: string; key: string; blob: string } | null> {
  for (const branch of branches) {
    const { rows } = await db.query<{ key: string; blob: string }>(
      `UPDATE caches SET last_used_at = now()
       WHERE (repo_id, branch, key) = (
         SELECT repo_id, branch, key FROM caches
         WHERE repo_id = $1 AND branch = $2 AND (key = $3 OR key LIKE $4 || '%')
         ORDER BY key = $3 DESC, created_at DESC LIMIT 1)
       RETURNING key, blob`,
      [repoId, branch, key, prefix.replace(/[\\%_]/g, '\\$&')]);
    if (rows[0]) return { branch, ...rows[0] };
  }
  return null;
}

/**
 * Records a cache whose archive is already in the blob store under `blob`;
 * the first of two concurrent saves wins (`saved` false for the second,
 * whose blob is then not needed). Then the repository's least recently used
 * caches go until the rest fit in `maxBytes` (archives' stored, compressed
 * size). Answers the blobs no row names any more, for the caller to delete.
 */
export async function saveCache(db: Queryable, c: { repoId: string; branch: string; key: string; blob: string; bytes: number; files: number; runId: number }, maxBytes: number): Promise<{ saved: boolean; unused: string[] }> {
  const { rowCount } = await db.query(
    `INSERT INTO caches (repo_id, branch, key, blob, bytes, files, run_id) VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (repo_id, branch, key) DO NOTHING`,
    [c.repoId, c.branch, c.key, c.blob, c.bytes, c.files, c.runId]);
  const { rows } = await db.query<{ blob: string }>(
    `DELETE FROM caches c USING (
       SELECT branch, key, sum(bytes) OVER (ORDER BY last_used_at DESC, created_at DESC, branch, key) AS kept
       FROM caches WHERE repo_id = $1) r
     WHERE c.repo_id = $1 AND c.branch = r.branch AND c.key = r.key AND r.kept > $2
     RETURNING c.blob`,
    [c.repoId, maxBytes]);
  const saved = rowCount === 1;
  return { saved, unused: [...(saved ? [] : [c.blob]), ...rows.map((r) => r.blob)] };
}

/** A repository's caches, most recently used first. */
export async function listCaches(db: Queryable, repoId: string): Promise<CacheEntry[]> {
  const { rows } = await db.query<CacheEntry>(`SELECT ${COLUMNS} FROM caches WHERE repo_id = $1 ORDER BY last_used_at DESC, key`, [repoId]);
  return rows;
}

/** Deletes the caches of a key (on one branch, or all); answers their blobs, for the caller to delete. */
export async function deleteCaches(db: Queryable, repoId: string, key: string | null, branch: string | null): Promise<string[]> {
  const { rows } = await db.query<{ blob: string }>(
    'DELETE FROM caches WHERE repo_id = $1 AND ($2::text IS NULL OR key = $2) AND ($3::text IS NULL OR branch = $3) RETURNING blob', [repoId, key, branch]);
  return rows.map((r) => r.blob);
}
