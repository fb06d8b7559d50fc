import type { Queryable } from './db.ts';

export async function appendLog(db: Queryable, runId: number, stage: string, attempt: number, chunk: string): Promise<void> {
  await db.query('INSERT INTO stage_logs (run_id, stage, attempt, chunk) VALUES ($1, $2, $3, $4)', [runId, stage, attempt, chunk]);
}

export async function readLog(db: Queryable, runId: number, stage: string, attempt: number): Promise<string> {
  const { rows } = await db.query<{ chunk: string }>(
    'SELECT chunk FROM stage_logs WHERE run_id = $1 AND stage = $2 AND attempt = $3 ORDER BY id', [runId, stage, attempt]);
  return rows.map((r) => r.chunk).join('');
}

/** Log chunks after `afterId`, for following a stage live. */
export async function readLogSince(db: Queryable, runId: number, stage: string, attempt: number, afterId: number): Promise<Array<{ id: number; chunk: string }>> {
  const { rows } = await db.query<{ id: number; chunk: string }>(
    'SELECT id, chunk FROM stage_logs WHERE run_id = $1 AND stage = $2 AND attempt = $3 AND id > $4 ORDER BY id', [runId, stage, attempt, afterId]);
  return rows;
}

/** The last `lines` lines of a stage's current log (a check run's text). */
export async function logTail(db: Queryable, runId: number, stage: string, attempt: number, lines = 60): Promise<string> {
  const { rows } = await db.query<{ chunk: string }>(
    'SELECT chunk FROM stage_logs WHERE run_id = $1 AND stage = $2 AND attempt = $3 ORDER BY id DESC LIMIT 200', [runId, stage, attempt]);
  return rows.reverse().map((r) => r.chunk).join('').split('\n').slice(-lines).join('\n');
}
