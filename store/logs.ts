import type { Queryable } from './db.ts';

/** Appends chunks to a stage's log, in order, in one statement (their ids follow the array's order). */
export async function appendLog(db: Queryable, runId: number, stage: string, attempt: number, chunks: string[]): Promise<void> {
  if (!chunks.length) return;
  // A parameter per row, not one text[]: an array goes as one literal, each element escaped and
  // the whole copied again (a third of a chatty step's cost in the worker, bench:logs). The rows of
  // one VALUES list are inserted, and so numbered, in order.
  await db.query(
    `INSERT INTO stage_logs (run_id, stage, attempt, chunk) VALUES ${chunks.map((_, i) => `($1, $2, $3, $${i + 4})`).join(', ')}`,
    [runId, stage, attempt, ...chunks]);
}

/** Log chunks after `afterId`, at most `limit` of them: a page of a log being read or followed. */
export async function readLogSince(db: Queryable, runId: number, stage: string, attempt: number, afterId: number, limit = 64): Promise<Array<{ id: number; chunk: string }>> {
  const { rows } = await db.query<{ id: string; chunk: string }>(
    'SELECT id, chunk FROM stage_logs WHERE run_id = $1 AND stage = $2 AND attempt = $3 AND id > $4 ORDER BY id LIMIT $5', [runId, stage, attempt, afterId, limit]);
  return rows.map((r) => ({ id: Number(r.id), chunk: r.chunk }));
}

/** A whole log, page by page: what is held at once is one page, whatever the log's size. */
export async function* readLogPages(db: Queryable, runId: number, stage: string, attempt: number): AsyncGenerator<string> {
  let after = 0;
  for (;;) {
    const rows = await readLogSince(db, runId, stage, attempt, after);
    if (rows.length === 0) return;
    yield rows.map((r) => r.chunk).join('');
    after = rows.at(-1)!.id;
  }
}

/** The last `lines` lines of a stage's current log (a check run's text). */
export async function logTail(db: Queryable, runId: number, stage: string, attempt: number, lines = 60): Promise<string> {
  const { rows } = await db.query<{ chunk: string }>(
    'SELECT chunk FROM stage_logs WHERE run_id = $1 AND stage = $2 AND attempt = $3 ORDER BY id DESC LIMIT 200', [runId, stage, attempt]);
  return rows.reverse().map((r) => r.chunk).join('').split('\n').slice(-lines).join('\n');
}
