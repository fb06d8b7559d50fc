import type { Queryable } from './db.ts';

export type StageStatus = 'queued' | 'waiting' | 'running' | 'success' | 'failure' | 'canceled' | 'skipped';
export const FINAL_STATUSES: readonly StageStatus[] = ['success', 'failure', 'canceled', 'skipped'];

/**
 * What a run's JSON columns hold. Their shapes belong to providers/ (the
 * normalized event) and pipelines/ (the parsed file), which the store does
 * not import: scheduler/run-documents.ts declares them here, so every reader
 * of a run gets them typed.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface RunDocuments {}
type Document<K extends string> = RunDocuments extends Record<K, infer T> ? T : unknown;

export interface RunRow {
  id: number;
  repoId: string;
  deliveryId: string | null;
  pipeline: string;
  file: string;
  event: Document<'event'>;
  sha: string;
  /** Null for a run of a file that did not parse. */
  definition: Document<'definition'>;
  status: StageStatus;
  reason: string | null;
  problems: string[];
  approvedBy: string | null;
  concurrencyGroup: string | null;
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
  waitingFor: string | null;
  approvedBy: string | null;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export const RUN_COLUMNS = `id, repo_id AS "repoId", delivery_id AS "deliveryId", pipeline, file, event, sha, definition,
  status, reason, problems, approved_by AS "approvedBy", concurrency_group AS "concurrencyGroup", attempt, created_at AS "createdAt", updated_at AS "updatedAt"`;
export const STAGE_COLUMNS = `run_id AS "runId", name, position, needs, status, reason, attempt, worker,
  waiting_for AS "waitingFor", approved_by AS "approvedBy",
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
  concurrencyGroup?: string | null;
  stages: Array<{ name: string; needs: string[]; status: StageStatus; reason: string | null }>;
}

/** Inserts a run and its stages; null when this delivery's event already planned it. */
export async function insertRun(db: Queryable, run: NewRun): Promise<number | null> {
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO runs (repo_id, delivery_id, event_index, pipeline, file, event, sha, definition, status, reason, problems, concurrency_group)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
     ON CONFLICT (delivery_id, event_index, pipeline) DO NOTHING RETURNING id`,
    [run.repoId, run.deliveryId, run.eventIndex, run.pipeline, run.file, JSON.stringify(run.event), run.sha,
      JSON.stringify(run.definition), run.status, run.reason ?? null, JSON.stringify(run.problems ?? []), run.concurrencyGroup ?? null]);
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

/** The run planned for a delivery's event and pipeline, if it was. */
export async function plannedRunId(db: Queryable, deliveryId: string, eventIndex: number, pipeline: string): Promise<number | null> {
  const { rows } = await db.query<{ id: number }>('SELECT id FROM runs WHERE delivery_id = $1 AND event_index = $2 AND pipeline = $3', [deliveryId, eventIndex, pipeline]);
  return rows[0]?.id ?? null;
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
       started_at = CASE WHEN $5 = 'running' THEN clock_timestamp() ELSE started_at END,
       finished_at = CASE WHEN $5 = ANY($8::text[]) THEN now() ELSE NULL END
     WHERE run_id = $1 AND name = $2 AND attempt = $3 AND status = ANY($4::text[])`,
    [t.runId, t.name, t.attempt, t.from, t.to, t.reason ?? null, t.worker ?? null, FINAL_STATUSES]);
  return rowCount === 1;
}

/**
 * The claim of a stage by a worker, in one statement: with the run locked,
 * the stage goes from `queued` (or waiting for a worker with its labels) to
 * `running` on `worker`, and the run becomes `running`. Answers the run and
 * the stage's approver, or null when the stage was not there to claim (its
 * job ran before, or it was canceled, or this is not its attempt).
 */
export async function claimStage(db: Queryable, c: { runId: number; name: string; attempt: number; worker: string }): Promise<{ run: RunRow; approvedBy: string | null } | null> {
  const { rows } = await db.query<RunRow & { claimed: boolean; stageApprovedBy: string | null }>(
    `WITH run AS (SELECT id FROM runs WHERE id = $1 FOR UPDATE),
     claimed AS (
       UPDATE stages s SET status = 'running', reason = NULL, worker = $4, started_at = clock_timestamp(), finished_at = NULL
       FROM run WHERE s.run_id = run.id AND s.name = $2 AND s.attempt = $3
         AND (s.status = 'queued' OR (s.status = 'waiting' AND s.waiting_for = 'labels'))
       RETURNING s.approved_by
     ),
     marked AS (
       UPDATE runs SET status = 'running', updated_at = now(), report_due = now()
       WHERE id = $1 AND status <> 'running' AND EXISTS (SELECT 1 FROM claimed)
     )
     SELECT ${RUN_COLUMNS}, EXISTS (SELECT 1 FROM claimed) AS claimed, (SELECT approved_by FROM claimed) AS "stageApprovedBy"
     FROM runs WHERE id = $1`,
    [c.runId, c.name, c.attempt, c.worker]);
  const row = rows[0];
  if (!row?.claimed) return null;
  const { claimed: _, stageApprovedBy, ...run } = row;
  // Read before the statement's own update of the run: it is running now.
  return { run: { ...run, status: 'running' }, approvedBy: stageApprovedBy };
}

export async function setRunStatus(db: Queryable, runId: number, status: StageStatus): Promise<void> {
  await db.query('UPDATE runs SET status = $2, updated_at = now(), report_due = now() WHERE id = $1 AND status <> $2', [runId, status]);
}

export interface RunFilter {
  repoId?: string | null;
  sha?: string | null;
  /** A full ref (refs/heads/main) or a branch name. */
  ref?: string | null;
  status?: string | null;
  pipeline?: string | null;
  beforeId?: number | null;
  limit: number;
}

export async function listRuns(db: Queryable, f: RunFilter): Promise<Array<RunRow & { startedAt: Date | null; finishedAt: Date | null }>> {
  // When the run's first stage started and, once it is final, its last one ended (the stages' primary key serves both).
  const { rows } = await db.query<RunRow & { startedAt: Date | null; finishedAt: Date | null }>(
    `SELECT ${RUN_COLUMNS},
       (SELECT min(s.started_at) FROM stages s WHERE s.run_id = runs.id) AS "startedAt",
       CASE WHEN status IN ('success', 'failure', 'canceled', 'skipped') THEN (SELECT max(s.finished_at) FROM stages s WHERE s.run_id = runs.id) END AS "finishedAt"
     FROM runs
     WHERE ($1::text IS NULL OR repo_id = $1) AND ($2::text IS NULL OR sha = $2)
       AND ($3::text IS NULL OR status = $3) AND ($4::bigint IS NULL OR id < $4)
       AND ($6::text IS NULL OR event->>'ref' = $6 OR event->>'branch' = $6) AND ($7::text IS NULL OR pipeline = $7)
     ORDER BY id DESC LIMIT $5`,
    [f.repoId ?? null, f.sha ?? null, f.status ?? null, f.beforeId ?? null, f.limit, f.ref ?? null, f.pipeline ?? null]);
  return rows;
}

/**
 * Starts the next attempt of a stage that failed or whose worker was lost:
 * queued again, at attempt + 1. False when the stage had moved on already.
 */
/** The attempt at which the stage's latest run or rerun began. */
export async function firstAttempt(db: Queryable, runId: number, name: string): Promise<number> {
  const { rows } = await db.query<{ first_attempt: number }>('SELECT first_attempt FROM stages WHERE run_id = $1 AND name = $2', [runId, name]);
  return rows[0]?.first_attempt ?? 1;
}

export async function requeueStage(db: Queryable, t: { runId: number; name: string; attempt: number; from: StageStatus[]; reason: string }): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE stages SET status = 'queued', attempt = attempt + 1, worker = NULL, started_at = NULL, finished_at = NULL,
       reason = $5, queued_at = now(), waiting_for = NULL
     WHERE run_id = $1 AND name = $2 AND attempt = $3 AND status = ANY($4::text[])`,
    [t.runId, t.name, t.attempt, t.from, t.reason]);
  return rowCount === 1;
}

/** Cancels a run's stages in one of `statuses` (default: every unfinished one), or only the named ones; answers the names canceled. */
export async function cancelStages(db: Queryable, runId: number, reason: string, only?: string[] | null, statuses: StageStatus[] = ['queued', 'waiting', 'running']): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `UPDATE stages SET status = 'canceled', reason = $2, finished_at = now(), waiting_for = NULL
     WHERE run_id = $1 AND status = ANY($4::text[]) AND ($3::text[] IS NULL OR name = ANY($3::text[]))
     RETURNING name`,
    [runId, reason, only ?? null, statuses]);
  return rows.map((r) => r.name);
}

/** Unfinished runs of pull requests whose head is `branch`. */
export async function activeForHeadBranch(db: Queryable, repoId: string, branch: string): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(
    `SELECT id FROM runs WHERE repo_id = $1 AND event->'pullRequest'->>'headRef' = $2 AND status IN ('queued', 'waiting', 'running')`,
    [repoId, branch]);
  return rows.map((r) => r.id);
}

/** Puts stages back to `queued` for a rerun, at their next attempt. */
export async function resetStages(db: Queryable, runId: number, names: string[]): Promise<void> {
  await db.query(
    `UPDATE stages SET status = 'queued', attempt = attempt + 1, first_attempt = attempt + 1, reason = NULL, worker = NULL, started_at = NULL,
       finished_at = NULL, waiting_for = NULL, approved_by = NULL, queued_at = now()
     WHERE run_id = $1 AND name = ANY($2::text[])`,
    [runId, names]);
  await db.query(`UPDATE runs SET attempt = attempt + 1, status = 'queued', reason = NULL, updated_at = now(), report_due = now() WHERE id = $1`, [runId]);
}

export async function setWaiting(db: Queryable, runId: number, name: string, attempt: number, waitingFor: string, reason: string): Promise<void> {
  await db.query(
    `UPDATE stages SET status = 'waiting', waiting_for = $4, reason = $5 WHERE run_id = $1 AND name = $2 AND attempt = $3 AND status IN ('queued', 'waiting')`,
    [runId, name, attempt, waitingFor, reason]);
}

/** Back to `queued` (sent to a worker) from a wait that ended. */
/**
 * Puts back a stage claimed for `worker` that it never started, as if it had
 * not been claimed: the same attempt, queued again. False when it is not
 * running there (it finished, or was canceled meanwhile).
 */
export async function unclaimStage(db: Queryable, s: { runId: number; name: string; attempt: number; worker: string }): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE stages SET status = 'queued', worker = NULL, started_at = NULL
     WHERE run_id = $1 AND name = $2 AND attempt = $3 AND status = 'running' AND worker = $4`,
    [s.runId, s.name, s.attempt, s.worker]);
  return rowCount === 1;
}

export async function setQueued(db: Queryable, runId: number, name: string, attempt: number): Promise<void> {
  await db.query(
    `UPDATE stages SET status = 'queued', waiting_for = NULL, reason = NULL WHERE run_id = $1 AND name = $2 AND attempt = $3 AND status = 'waiting'`,
    [runId, name, attempt]);
}

export async function approveStage(db: Queryable, runId: number, name: string, actor: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE stages SET approved_by = $3 WHERE run_id = $1 AND name = $2 AND status = 'waiting' AND waiting_for = 'approval'`, [runId, name, actor]);
  return rowCount === 1;
}

export async function approveRun(db: Queryable, runId: number, actor: string): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE runs SET approved_by = $2 WHERE id = $1 AND approved_by IS NULL', [runId, actor]);
  return rowCount === 1;
}

/** Unfinished runs of a concurrency group, other than `exceptId`, oldest first. */
export async function activeInGroup(db: Queryable, repoId: string, group: string, exceptId: number): Promise<Array<{ id: number; started: boolean }>> {
  const { rows } = await db.query<{ id: number; started: boolean }>(
    `SELECT r.id, EXISTS (SELECT 1 FROM stages s WHERE s.run_id = r.id AND (s.status = 'running' OR s.finished_at IS NOT NULL)) AS started
     FROM runs r WHERE r.repo_id = $1 AND r.concurrency_group = $2 AND r.id <> $3
       AND r.status IN ('queued', 'waiting', 'running') ORDER BY r.id`,
    [repoId, group, exceptId]);
  return rows;
}

/** Unfinished runs of a pull request (by number), optionally of one pipeline, other than `exceptId`. */
export async function activeForPullRequest(db: Queryable, repoId: string, number: number, pipeline: string | null, exceptId: number): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(
    `SELECT id FROM runs WHERE repo_id = $1 AND (event->'pullRequest'->>'number')::int = $2 AND ($3::text IS NULL OR pipeline = $3)
       AND id <> $4 AND event->>'action' IS DISTINCT FROM 'merged' AND status IN ('queued', 'waiting', 'running') ORDER BY id`,
    [repoId, number, pipeline, exceptId]);
  return rows.map((r) => r.id);
}

/** The newest run of a group whose stages wait for the group. */
export async function nextInGroup(db: Queryable, repoId: string, group: string): Promise<number | null> {
  const { rows } = await db.query<{ id: number }>(
    `SELECT DISTINCT r.id FROM runs r JOIN stages s ON s.run_id = r.id
     WHERE r.repo_id = $1 AND r.concurrency_group = $2 AND s.status = 'waiting' AND s.waiting_for = 'group' ORDER BY r.id DESC LIMIT 1`,
    [repoId, group]);
  return rows[0]?.id ?? null;
}

/** The oldest stage of the repository waiting for an environment's lock. */
export async function nextWaitingForLock(db: Queryable, repoId: string, environment: string): Promise<{ runId: number; name: string } | null> {
  const { rows } = await db.query<{ runId: number; name: string }>(
    `SELECT s.run_id AS "runId", s.name FROM stages s JOIN runs r ON r.id = s.run_id
     WHERE r.repo_id = $1 AND s.status = 'waiting' AND s.waiting_for = 'lock'
       AND (r.definition->'stages') @> jsonb_build_array(jsonb_build_object('name', s.name, 'environment', $2::text))
     ORDER BY s.queued_at, s.run_id LIMIT 1`,
    [repoId, environment]);
  return rows[0] ?? null;
}

/** Stages of a run waiting for one thing (the group, a fork's approval). */
export async function stagesWaitingFor(db: Queryable, runId: number, waitingFor: string): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT name FROM stages WHERE run_id = $1 AND status = 'waiting' AND waiting_for = $2 ORDER BY position`, [runId, waitingFor]);
  return rows.map((r) => r.name);
}

export async function setPipelineDiff(db: Queryable, runId: number, diff: string): Promise<void> {
  await db.query('UPDATE runs SET pipeline_diff = $2 WHERE id = $1', [runId, diff]);
}

export async function pipelineDiff(db: Queryable, runId: number): Promise<string | null> {
  const { rows } = await db.query<{ pipeline_diff: string | null }>('SELECT pipeline_diff FROM runs WHERE id = $1', [runId]);
  return rows[0]?.pipeline_diff ?? null;
}

/** A rerun asks for approval again. */
export async function clearApproval(db: Queryable, runId: number): Promise<void> {
  await db.query('UPDATE runs SET approved_by = NULL WHERE id = $1', [runId]);
}

/** Stages of a repository's runs waiting to enter an environment, oldest first. */
export async function waitingForEnvironment(db: Queryable, repoId: string, environment: string): Promise<Array<{ runId: number; name: string; reason: string | null; waitingFor: string | null }>> {
  const { rows } = await db.query(
    `SELECT s.run_id, s.name, s.reason, s.waiting_for FROM stages s JOIN runs r ON r.id = s.run_id
     WHERE r.repo_id = $1 AND s.status = 'waiting' AND (r.definition->'stages') @> jsonb_build_array(jsonb_build_object('name', s.name, 'environment', $2::text))
     ORDER BY s.queued_at`, [repoId, environment]);
  return rows.map((r) => ({ runId: r.run_id, name: r.name, reason: r.reason, waitingFor: r.waiting_for }));
}

/**
 * Stages of older first attempts of the given event kinds, waiting for
 * approval or a lock on the same environment: a newer deployment supersedes them.
 */
export async function olderWaitingDeployments(db: Queryable, repoId: string, runId: number, environment: string, kinds: string[]): Promise<Array<{ runId: number; name: string }>> {
  const { rows } = await db.query<{ run_id: number; name: string }>(
    `SELECT s.run_id, s.name FROM stages s JOIN runs r ON r.id = s.run_id
     WHERE r.repo_id = $1 AND s.status = 'waiting' AND s.waiting_for IN ('approval', 'lock') AND s.run_id < $2 AND r.attempt = 1
       AND r.event->>'kind' = ANY($4::text[])
       AND (r.definition->'stages') @> jsonb_build_array(jsonb_build_object('name', s.name, 'environment', $3::text))`,
    [repoId, runId, environment, kinds]);
  return rows.map((r) => ({ runId: r.run_id, name: r.name }));
}

/** Which of these stage attempts are running now. */
export async function runningAttempts(db: Queryable, attempts: Array<{ runId: number; name: string; attempt: number }>): Promise<Array<{ runId: number; name: string; attempt: number }>> {
  if (attempts.length === 0) return [];
  const { rows } = await db.query<{ runId: number; name: string; attempt: number }>(
    `SELECT s.run_id AS "runId", s.name, s.attempt FROM stages s
     JOIN unnest($1::bigint[], $2::text[], $3::int[]) AS a(run_id, name, attempt) ON a.run_id = s.run_id AND a.name = s.name AND a.attempt = s.attempt
     WHERE s.status = 'running'`,
    [attempts.map((a) => a.runId), attempts.map((a) => a.name), attempts.map((a) => a.attempt)]);
  return rows.map((r) => ({ ...r, runId: Number(r.runId) }));
}

/** The steps an attempt ran (its row is written when it ends: migration 019). */
export async function recordSteps(db: Queryable, a: { runId: number; name: string; attempt: number }, steps: unknown[]): Promise<void> {
  await db.query('UPDATE stage_attempts SET steps = $4 WHERE run_id = $1 AND stage = $2 AND attempt = $3', [a.runId, a.name, a.attempt, JSON.stringify(steps)]);
}

export interface AttemptRow {
  stage: string;
  attempt: number;
  status: StageStatus;
  reason: string | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  steps: Array<{ name: string; startedAt: string; finishedAt: string; exitCode: number | null; status: string }> | null;
}

/** Every ended attempt of a run's stages, oldest first. */
export async function stageAttempts(db: Queryable, runId: number): Promise<AttemptRow[]> {
  const { rows } = await db.query<AttemptRow>(
    `SELECT stage, attempt, status, reason, started_at AS "startedAt", finished_at AS "finishedAt", steps
     FROM stage_attempts WHERE run_id = $1 ORDER BY stage, attempt`, [runId]);
  return rows;
}

/** A pipeline's newest run on a branch (a badge's): its status, or null when it has none. */
export async function newestOnBranch(db: Queryable, repoId: string, pipeline: string, branch: string): Promise<StageStatus | null> {
  const { rows } = await db.query<{ status: StageStatus }>(
    `SELECT status FROM runs WHERE repo_id = $1 AND pipeline = $2 AND event->>'branch' = $3 AND event->'pullRequest' = 'null'::jsonb
     ORDER BY id DESC LIMIT 1`, [repoId, pipeline, branch]);
  return rows[0]?.status ?? null;
}

/** A mark that changes whenever a run is created or changes state (the live runs list polls it). */
export async function changeMark(db: Queryable): Promise<string> {
  const { rows } = await db.query<{ mark: string | null }>(`SELECT (SELECT max(id) FROM runs)::text || '/' || (SELECT updated_at FROM runs ORDER BY updated_at DESC LIMIT 1)::text AS mark`);
  return rows[0]?.mark ?? '';
}

/**
 * A pipeline's newest run on each branch, the most recently active branches
 * first. The branches are found by skipping through runs_pipeline_branch one
 * branch at a time, and each one's newest run is one index read: the cost
 * grows with the branches, not with the runs.
 */
export async function newestPerBranch(db: Queryable, repoId: string, pipeline: string, limit = 20): Promise<Array<{ id: number; branch: string; status: StageStatus; sha: string; createdAt: Date }>> {
  const { rows } = await db.query<{ id: number; branch: string; status: StageStatus; sha: string; createdAt: Date }>(
    `WITH RECURSIVE branches AS (
       (SELECT event->>'branch' AS branch FROM runs WHERE repo_id = $1 AND pipeline = $2 AND event->>'branch' IS NOT NULL ORDER BY event->>'branch' LIMIT 1)
       UNION ALL
       SELECT (SELECT event->>'branch' FROM runs WHERE repo_id = $1 AND pipeline = $2 AND event->>'branch' > b.branch ORDER BY event->>'branch' LIMIT 1)
       FROM branches b WHERE b.branch IS NOT NULL)
     SELECT newest.* FROM branches b CROSS JOIN LATERAL (
       SELECT runs.id::int AS id, b.branch, status, sha, created_at AS "createdAt" FROM runs
       -- runs.id, not the int alias: the index gives that order, the alias would need a sort.
       WHERE repo_id = $1 AND pipeline = $2 AND event->>'branch' = b.branch ORDER BY runs.id DESC LIMIT 1) newest
     WHERE b.branch IS NOT NULL ORDER BY newest.id DESC LIMIT $3`, [repoId, pipeline, limit]);
  return rows;
}
