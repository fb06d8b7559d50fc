import { logs, waitingOutOutages, type Pool } from '../store/index.ts';

/**
 * Collects a stage's output and appends it to the stored log in order, a
 * batch at a time, so a chatty step costs one insert per interval, not per line.
 */
export function logSink(pool: Pool, runId: number, stage: string, attempt: number, intervalMs = 100) {
  let pending = '';
  let writing: Promise<void> = Promise.resolve();
  // A chunk the database would not take while it was away is tried again, in order,
  // once it is back (for up to a minute): a restart of PostgreSQL loses no output.
  const append = (chunk: string) => waitingOutOutages(() => logs.appendLog(pool, runId, stage, attempt, chunk)).catch(() => {});
  const flush = () => {
    if (!pending) return writing;
    const chunk = pending;
    pending = '';
    writing = writing.then(() => append(chunk));
    return writing;
  };
  const timer = setInterval(flush, intervalMs);
  return {
    // PostgreSQL's text cannot hold NUL: one would fail the whole insert, losing every line around it.
    write(chunk: string) { pending += chunk.replaceAll('\u0000', '\uFFFD'); },
    async close() {
      clearInterval(timer);
      await flush();
    },
  };
}
