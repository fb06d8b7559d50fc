import type { Queryable } from './db.ts';

export interface Environment {
  repoId: string;
  name: string;
  branches: string[] | null;
  approval: boolean;
  approvers: string[] | null;
}

export async function setEnvironment(db: Queryable, e: Environment): Promise<void> {
  await db.query(
    `INSERT INTO environments (repo_id, name, branches, approval, approvers) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (repo_id, name) DO UPDATE SET branches = EXCLUDED.branches, approval = EXCLUDED.approval,
       approvers = EXCLUDED.approvers, updated_at = now()`,
    [e.repoId, e.name, e.branches, e.approval, e.approvers]);
}

export async function getEnvironment(db: Queryable, repoId: string, name: string): Promise<Environment | null> {
  const { rows } = await db.query<Environment>(
    'SELECT repo_id AS "repoId", name, branches, approval, approvers FROM environments WHERE repo_id = $1 AND name = $2', [repoId, name]);
  return rows[0] ?? null;
}

export async function listEnvironments(db: Queryable, repoId: string): Promise<Array<Environment & { deployed: { sha: string; runId: number; status: string; at: Date } | null }>> {
  const { rows } = await db.query(
    `SELECT e.repo_id AS "repoId", e.name, e.branches, e.approval, e.approvers,
       (SELECT json_build_object('sha', d.sha, 'runId', d.run_id, 'status', d.status, 'at', d.finished_at)
        FROM deployments d WHERE d.repo_id = e.repo_id AND d.environment = e.name AND d.status = 'success'
        ORDER BY d.id DESC LIMIT 1) AS deployed
     FROM environments e WHERE e.repo_id = $1 ORDER BY e.name`, [repoId]);
  return rows;
}

/** Takes the environment's lock for a stage; true when it holds it (already or now). */
export async function acquireLock(db: Queryable, repoId: string, environment: string, runId: number, stage: string): Promise<boolean> {
  await db.query(
    `INSERT INTO environment_locks (repo_id, environment, run_id, stage) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
    [repoId, environment, runId, stage]);
  const { rows } = await db.query<{ run_id: number; stage: string }>(
    'SELECT run_id, stage FROM environment_locks WHERE repo_id = $1 AND environment = $2', [repoId, environment]);
  return rows[0]?.run_id === runId && rows[0]?.stage === stage;
}

export async function lockHolder(db: Queryable, repoId: string, environment: string): Promise<{ runId: number; stage: string } | null> {
  const { rows } = await db.query<{ runId: number; stage: string }>(
    'SELECT run_id AS "runId", stage FROM environment_locks WHERE repo_id = $1 AND environment = $2', [repoId, environment]);
  return rows[0] ?? null;
}

export async function releaseLock(db: Queryable, repoId: string, environment: string, runId: number, stage: string): Promise<boolean> {
  const { rowCount } = await db.query(
    'DELETE FROM environment_locks WHERE repo_id = $1 AND environment = $2 AND run_id = $3 AND stage = $4', [repoId, environment, runId, stage]);
  return rowCount === 1;
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
