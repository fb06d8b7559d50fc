import type { Queryable } from './db.ts';
import type { Session } from './session.ts';

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

/**
 * The run's report posted every context of the state read at `asOf` (its
 * updated_at): nothing is due unless the state changed meanwhile.
 */
export async function settleReport(db: Queryable, runId: number, asOf: Date): Promise<void> {
  // updated_at only grows; a Date holds milliseconds where PostgreSQL keeps microseconds.
  await db.query(`UPDATE runs SET report_due = NULL WHERE id = $1 AND updated_at < $2::timestamptz + interval '1 millisecond'`, [runId, asOf]);
}

/** The forge asked to wait: the report is due again then, not before. */
export async function postponeReport(db: Queryable, runId: number, seconds: number): Promise<void> {
  await db.query('UPDATE runs SET report_due = greatest(report_due, now() + make_interval(secs => $2)) WHERE id = $1 AND report_due IS NOT NULL',
    [runId, seconds]);
}

/** Finished runs whose report has been due longer than `olderThanSeconds` (and less than a day). */
export async function overdueReports(db: Queryable, olderThanSeconds: number, limit: number): Promise<number[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM runs
     WHERE report_due IS NOT NULL AND report_due < now() - make_interval(secs => $1) AND report_due > now() - interval '1 day'
       AND status IN ('success', 'failure', 'canceled', 'skipped')
     ORDER BY report_due LIMIT $2`,
    [olderThanSeconds, limit]);
  return rows.map((r) => Number(r.id));
}

/**
 * Runs `report` while holding the run's report lock, so two processes never
 * post one run's statuses at once (GitLab refuses a state posted twice).
 * Answers false, without running it, when another holds the lock. A lock of
 * the process's own session (store/session.ts): it holds no pooled
 * connection while the forge answers, and a process that dies releases it.
 */
export async function withReportLock(session: Session, runId: number, report: () => Promise<void>): Promise<boolean> {
  const key = `forgeline-report:${runId}`;
  if (!(await session.tryLock(key))) return false;
  try {
    await report();
  } finally {
    await session.unlock(key);
  }
  return true;
}
