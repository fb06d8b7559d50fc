import type { Queryable } from './db.ts';

export interface Environment {
  repoId: string;
  name: string;
  branches: string[] | null;
  /** Tag globs that may deploy; a tag never satisfies `branches`. */
  tags: string[] | null;
  approval: boolean;
  approvers: string[] | null;
}

export async function setEnvironment(db: Queryable, e: Environment): Promise<void> {
  await db.query(
    `INSERT INTO environments (repo_id, name, branches, tags, approval, approvers) VALUES ($1, $2, $3, $6, $4, $5)
     ON CONFLICT (repo_id, name) DO UPDATE SET branches = EXCLUDED.branches, tags = EXCLUDED.tags, approval = EXCLUDED.approval,
       approvers = EXCLUDED.approvers, updated_at = now()`,
    [e.repoId, e.name, e.branches, e.approval, e.approvers, e.tags]);
}

/** Removes an environment's protection and its own secrets (either may exist alone); its deployment history stays. */
export async function removeEnvironment(db: Queryable, repoId: string, name: string): Promise<boolean> {
  const protection = await db.query('DELETE FROM environments WHERE repo_id = $1 AND name = $2', [repoId, name]);
  const secrets = await db.query('DELETE FROM secrets WHERE repo_id = $1 AND environment = $2', [repoId, name]);
  return (protection.rowCount ?? 0) + (secrets.rowCount ?? 0) > 0;
}

export async function getEnvironment(db: Queryable, repoId: string, name: string): Promise<Environment | null> {
  const { rows } = await db.query<Environment>(
    'SELECT repo_id AS "repoId", name, branches, tags, approval, approvers FROM environments WHERE repo_id = $1 AND name = $2', [repoId, name]);
  return rows[0] ?? null;
}

export async function listEnvironments(db: Queryable, repoId: string): Promise<Array<Environment & { deployed: { sha: string; runId: number; status: string; at: Date } | null }>> {
  const { rows } = await db.query(
    `SELECT e.repo_id AS "repoId", e.name, e.branches, e.tags, e.approval, e.approvers,
       (SELECT json_build_object('sha', d.sha, 'runId', d.run_id, 'status', d.status, 'at', d.finished_at)
        FROM deployments d WHERE d.repo_id = e.repo_id AND d.environment = e.name AND d.status = 'success'
        ORDER BY d.id DESC LIMIT 1) AS deployed
     FROM environments e WHERE e.repo_id = $1 ORDER BY e.name`, [repoId]);
  return rows;
}

/** Takes the environment's lock for a stage's attempt; true when it holds it (already or now). */
export async function acquireLock(db: Queryable, repoId: string, environment: string, runId: number, stage: string, attempt: number): Promise<boolean> {
  await db.query(
    `INSERT INTO environment_locks (repo_id, environment, run_id, stage, attempt) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
    [repoId, environment, runId, stage, attempt]);
  const { rows } = await db.query<{ run_id: number; stage: string; attempt: number }>(
    'SELECT run_id, stage, attempt FROM environment_locks WHERE repo_id = $1 AND environment = $2', [repoId, environment]);
  return rows[0]?.run_id === runId && rows[0]?.stage === stage && rows[0]?.attempt === attempt;
}

export async function lockHolder(db: Queryable, repoId: string, environment: string): Promise<{ runId: number; stage: string; attempt: number } | null> {
  const { rows } = await db.query<{ runId: number; stage: string; attempt: number }>(
    'SELECT run_id AS "runId", stage, attempt FROM environment_locks WHERE repo_id = $1 AND environment = $2', [repoId, environment]);
  return rows[0] ?? null;
}

/** The worker that claimed the attempt holding the lock: from then on, only its step's end (or its loss) frees the lock. */
export async function claimLock(db: Queryable, runId: number, stage: string, attempt: number, worker: string): Promise<void> {
  await db.query('UPDATE environment_locks SET worker = $4, claimed_at = now() WHERE run_id = $1 AND stage = $2 AND attempt = $3', [runId, stage, attempt, worker]);
}

/** An attempt claimed but never started, queued again: no worker holds it now. */
export async function unclaimLock(db: Queryable, runId: number, stage: string, attempt: number): Promise<void> {
  await db.query('UPDATE environment_locks SET worker = NULL, claimed_at = NULL WHERE run_id = $1 AND stage = $2 AND attempt = $3', [runId, stage, attempt]);
}

/** A failed attempt retried: its step has ended, and the next attempt keeps the lock. */
export async function passLock(db: Queryable, runId: number, stage: string, attempt: number): Promise<void> {
  await db.query(
    'UPDATE environment_locks SET attempt = attempt + 1, worker = NULL, claimed_at = NULL WHERE run_id = $1 AND stage = $2 AND attempt = $3',
    [runId, stage, attempt]);
}

/**
 * Frees the lock a stage's attempt holds. `unclaimedOnly`: only if no worker
 * claimed it (a canceled stage whose step may still be running keeps it).
 */
export async function releaseLock(db: Queryable, repoId: string, environment: string, runId: number, stage: string, attempt: number, opts: { unclaimedOnly?: boolean } = {}): Promise<boolean> {
  const { rowCount } = await db.query(
    `DELETE FROM environment_locks WHERE repo_id = $1 AND environment = $2 AND run_id = $3 AND stage = $4 AND attempt = $5
       AND ($6::boolean IS NOT TRUE OR worker IS NULL)`,
    [repoId, environment, runId, stage, attempt, opts.unclaimedOnly ?? false]);
  return rowCount === 1;
}

export interface HeldLock {
  repoId: string;
  environment: string;
  runId: number;
  stage: string;
  attempt: number;
}

/**
 * Locks still held by an attempt that has ended (canceled while running,
 * or rerun since) whose worker cannot end its step any more: it
 * stopped or went quiet for `seconds`. Its step died with it, or is held.
 */
export async function locksOfLostWorkers(db: Queryable, seconds: number): Promise<HeldLock[]> {
  const { rows } = await db.query<HeldLock>(
    `SELECT l.repo_id AS "repoId", l.environment, l.run_id AS "runId", l.stage, l.attempt FROM environment_locks l
     LEFT JOIN stages s ON s.run_id = l.run_id AND s.name = l.stage AND s.attempt = l.attempt AND s.status IN ('queued', 'waiting', 'running')
     LEFT JOIN workers w ON w.id = l.worker
     WHERE l.worker IS NOT NULL AND s.run_id IS NULL
       AND (w.id IS NULL OR w.stopped_at IS NOT NULL OR w.heartbeat_at < now() - make_interval(secs => $1))`,
    [seconds]);
  return rows;
}

/** A held lock, locked for the transaction: the worker that claimed its attempt, and whether that attempt is still unfinished. */
export async function heldBy(db: Queryable, lock: HeldLock): Promise<{ worker: string | null; unfinished: boolean } | null> {
  const { rows } = await db.query<{ worker: string | null; unfinished: boolean }>(
    `SELECT l.worker, EXISTS (SELECT 1 FROM stages s WHERE s.run_id = l.run_id AND s.name = l.stage AND s.attempt = l.attempt
                               AND s.status IN ('queued', 'waiting', 'running')) AS unfinished
     FROM environment_locks l WHERE l.repo_id = $1 AND l.environment = $2 AND l.run_id = $3 AND l.stage = $4 AND l.attempt = $5 FOR UPDATE OF l`,
    [lock.repoId, lock.environment, lock.runId, lock.stage, lock.attempt]);
  return rows[0] ?? null;
}

/**
 * Locks held for this live worker by attempts that have ended and that it
 * does not run: canceled after it claimed them and before it started
 * them. `seconds` spares claims just made.
 */
export async function untrackedLocks(db: Queryable, worker: string, tracked: Array<{ runId: number; name: string; attempt: number }>, seconds: number): Promise<HeldLock[]> {
  const { rows } = await db.query<HeldLock>(
    `SELECT l.repo_id AS "repoId", l.environment, l.run_id AS "runId", l.stage, l.attempt FROM environment_locks l
     WHERE l.worker = $1 AND l.claimed_at < now() - make_interval(secs => $5)
       AND NOT EXISTS (SELECT 1 FROM stages s WHERE s.run_id = l.run_id AND s.name = l.stage AND s.attempt = l.attempt AND s.status IN ('queued', 'waiting', 'running'))
       AND NOT EXISTS (SELECT 1 FROM unnest($2::bigint[], $3::text[], $4::int[]) AS t(run_id, name, attempt)
                       WHERE t.run_id = l.run_id AND t.name = l.stage AND t.attempt = l.attempt)`,
    [worker, tracked.map((t) => t.runId), tracked.map((t) => t.name), tracked.map((t) => t.attempt), seconds]);
  return rows;
}

export async function recordDeployment(db: Queryable, d: { repoId: string; environment: string; runId: number; stage: string; attempt: number; sha: string; approvedBy: string | null }): Promise<void> {
  await db.query(
    `INSERT INTO deployments (repo_id, environment, run_id, stage, attempt, sha, status, approved_by)
     VALUES ($1, $2, $3, $4, $5, $6, 'running', $7) ON CONFLICT (run_id, stage, attempt) DO NOTHING`,
    [d.repoId, d.environment, d.runId, d.stage, d.attempt, d.sha, d.approvedBy]);
}

export async function finishDeployment(db: Queryable, runId: number, stage: string, attempt: number, status: string): Promise<void> {
  await db.query(`UPDATE deployments SET status = $4, finished_at = now() WHERE run_id = $1 AND stage = $2 AND attempt = $3`, [runId, stage, attempt, status]);
}

export async function listDeployments(db: Queryable, repoId: string, environment: string, limit: number, beforeId: number | null) {
  const { rows } = await db.query(
    `SELECT id, environment, run_id AS "runId", stage, attempt, sha, status, approved_by AS "approvedBy", started_at AS "startedAt", finished_at AS "finishedAt"
     FROM deployments WHERE repo_id = $1 AND environment = $2 AND ($4::bigint IS NULL OR id < $4) ORDER BY id DESC LIMIT $3`,
    [repoId, environment, limit, beforeId]);
  return rows;
}
