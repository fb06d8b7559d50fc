import type { Queryable } from './db.ts';

export interface PostedStatus {
  context: string;
  state: string;
  description: string;
  /** What the forge calls it (a check run's id), to update it. */
  externalId?: string | null;
}

export async function postedStatuses(db: Queryable, repoId: string, sha: string, contexts: string[]): Promise<Map<string, PostedStatus>> {
  const { rows } = await db.query<PostedStatus>(
    'SELECT context, state, description, external_id AS "externalId" FROM status_reports WHERE repo_id = $1 AND sha = $2 AND context = ANY($3::text[])',
    [repoId, sha, contexts]);
  return new Map(rows.map((r) => [r.context, r]));
}

export async function recordPosted(db: Queryable, repoId: string, sha: string, runId: number, s: PostedStatus): Promise<void> {
  await db.query(
    `INSERT INTO status_reports (repo_id, sha, context, state, description, run_id, posted_at, error, external_id)
     VALUES ($1, $2, $3, $4, $5, $6, now(), NULL, $7)
     ON CONFLICT (repo_id, sha, context) DO UPDATE
       SET state = EXCLUDED.state, description = EXCLUDED.description, run_id = EXCLUDED.run_id, posted_at = now(), error = NULL,
         external_id = COALESCE(EXCLUDED.external_id, status_reports.external_id)`,
    [repoId, sha, s.context, s.state, s.description, runId, s.externalId ?? null]);
}

/** A forge's permanent refusal, kept so the run shows why its status is missing. */
export async function recordReportError(db: Queryable, repoId: string, sha: string, runId: number, context: string, error: string): Promise<void> {
  await db.query(
    `INSERT INTO status_reports (repo_id, sha, context, state, description, run_id, error)
     VALUES ($1, $2, $3, '', '', $4, $5)
     ON CONFLICT (repo_id, sha, context) DO UPDATE SET error = EXCLUDED.error`,
    [repoId, sha, context, runId, error]);
}
