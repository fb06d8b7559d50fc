import type { Queryable } from './db.ts';
import { COLUMNS as REPO_COLUMNS, type Repo } from './repos.ts';
import { RUN_COLUMNS, STAGE_COLUMNS, type RunRow, type StageRow } from './runs.ts';
import type { SecretBox } from './secret-box.ts';
import type { Session } from './session.ts';

export interface PostedStatus {
  context: string;
  state: string;
  description: string;
  /** What the forge calls it (a check run's id), to update it. */
  externalId?: string | null;
}

/** What a report reads: the run, its stages, its repository with the credentials to post, and what was posted for its commit. */
export interface ReportView {
  run: RunRow;
  stages: StageRow[];
  repo: Repo | null;
  token: string | null;
  app: { appId: string; privateKey: string } | null;
  posted: Map<string, PostedStatus>;
}

/**
 * The report's reads in one round trip (several statements in one simple
 * query; the run's id is a number, so it is written into the text): a report
 * per state change made these six reads most of a short stage's queries.
 */
export async function reportView(db: Queryable, box: SecretBox, runId: number): Promise<ReportView | null> {
  const id = Math.trunc(Number(runId));
  if (!Number.isSafeInteger(id)) throw new Error(`not a run id: ${runId}`);
  const results = (await db.query(`
    SELECT ${RUN_COLUMNS} FROM runs WHERE id = ${id};
    SELECT ${STAGE_COLUMNS} FROM stages WHERE run_id = ${id} ORDER BY position;
    SELECT ${REPO_COLUMNS}, token, app_id, app_key FROM repos WHERE id = (SELECT repo_id FROM runs WHERE id = ${id});
    SELECT context, state, description, external_id AS "externalId" FROM status_reports
      WHERE (repo_id, sha) = (SELECT repo_id, sha FROM runs WHERE id = ${id})`)) as unknown as Array<{ rows: any[] }>;
  const [runs, stages, repos, posted] = results.map((r) => r.rows);
  const run = runs![0] as RunRow | undefined;
  if (!run) return null;
  const { token, app_id: appId, app_key: appKey, ...repo } = (repos![0] ?? {}) as Repo & { token: string | null; app_id: string | null; app_key: string | null };
  return {
    run,
    stages: stages as StageRow[],
    repo: repos![0] ? repo as Repo : null,
    token: token ? box.open(token) : null,
    app: appId && appKey ? { appId, privateKey: box.open(appKey) } : null,
    posted: new Map((posted as PostedStatus[]).map((p) => [p.context, p])),
  };
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
