import type { Queryable } from './db.ts';

export interface PostedStatus {
  context: string;
  state: string;
  description: string;
}

export async function postedStatuses(db: Queryable, repoId: string, sha: string, contexts: string[]): Promise<Map<string, PostedStatus>> {
  const { rows } = await db.query<PostedStatus>(
    'SELECT context, state, description FROM status_reports WHERE repo_id = $1 AND sha = $2 AND context = ANY($3::text[])',
    [repoId, sha, contexts]);
  return new Map(rows.map((r) => [r.context, r]));
}

export async function recordPosted(db: Queryable, repoId: string, sha: string, runId: number, s: PostedStatus): Promise<void> {
  await db.query(
    `INSERT INTO status_reports (repo_id, sha, context, state, description, run_id, posted_at, error)
     VALUES ($1, $2, $3, $4, $5, $6, now(), NULL)
     ON CONFLICT (repo_id, sha, context) DO UPDATE
       SET state = EXCLUDED.state, description = EXCLUDED.description, run_id = EXCLUDED.run_id, posted_at = now(), error = NULL`,
    [repoId, sha, s.context, s.state, s.description, runId]);
}

/** A forge's permanent refusal, kept so the run shows why its status is missing. */
export async function recordReportError(db: Queryable, repoId: string, sha: string, runId: number, context: string, error: string): Promise<void> {
  await db.query(
    `INSERT INTO status_reports (repo_id, sha, context, state, description, run_id, error)
     VALUES ($1, $2, $3, '', '', $4, $5)
     ON CONFLICT (repo_id, sha, context) DO UPDATE SET error = EXCLUDED.error`,
    [repoId, sha, context, runId, error]);
}
