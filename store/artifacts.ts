import type { Queryable } from './db.ts';

export async function saveArtifacts(db: Queryable, a: { runId: number; stage: string; attempt: number; archive: Buffer; files: string[]; bytes: number }): Promise<void> {
  await db.query(
    `INSERT INTO artifacts (run_id, stage, attempt, archive, files, bytes) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (run_id, stage) DO UPDATE SET attempt = EXCLUDED.attempt, archive = EXCLUDED.archive, files = EXCLUDED.files,
       bytes = EXCLUDED.bytes, created_at = now()`,
    [a.runId, a.stage, a.attempt, a.archive, a.files, a.bytes]);
}

/** The archives the named stages of a run left, in order. */
export async function loadArtifacts(db: Queryable, runId: number, stages: string[]): Promise<Array<{ stage: string; archive: Buffer; files: string[] }>> {
  const { rows } = await db.query<{ stage: string; archive: Buffer; files: string[] }>(
    'SELECT stage, archive, files FROM artifacts WHERE run_id = $1 AND stage = ANY($2::text[]) ORDER BY stage', [runId, stages]);
  return rows;
}
