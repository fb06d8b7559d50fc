import type { Queryable } from './db.ts';

/**
 * Records a stage's kept artifacts, whose archive is already in the blob
 * store under `blob`. A rerun's replace the earlier attempt's: answers the
 * blob they replaced, which the caller deletes from the store.
 */
export async function saveArtifacts(db: Queryable, a: { runId: number; stage: string; attempt: number; blob: string; files: string[]; bytes: number }): Promise<string | null> {
  const { rows } = await db.query<{ replaced: string | null }>(
    `WITH earlier AS (SELECT blob FROM artifacts WHERE run_id = $1 AND stage = $2)
     INSERT INTO artifacts (run_id, stage, attempt, blob, files, bytes) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (run_id, stage) DO UPDATE SET attempt = EXCLUDED.attempt, blob = EXCLUDED.blob, files = EXCLUDED.files,
       bytes = EXCLUDED.bytes, created_at = now()
     RETURNING (SELECT blob FROM earlier) AS replaced`,
    [a.runId, a.stage, a.attempt, a.blob, a.files, a.bytes]);
  return rows[0]?.replaced ?? null;
}

/** The archives the named stages of a run left, in order: each one's blob key. */
export async function loadArtifacts(db: Queryable, runId: number, stages: string[]): Promise<Array<{ stage: string; blob: string; files: string[] }>> {
  const { rows } = await db.query<{ stage: string; blob: string; files: string[] }>(
    'SELECT stage, blob, files FROM artifacts WHERE run_id = $1 AND stage = ANY($2::text[]) ORDER BY stage', [runId, stages]);
  return rows;
}
