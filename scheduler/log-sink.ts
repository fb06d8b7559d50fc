import { logs, waitingOutOutages, type Pool } from '../store/index.ts';

/** FORGELINE_LOG_MAX_BYTES' default: what a stage's log may hold. */
export const DEFAULT_LOG_MAX_BYTES = 64 * 1024 * 1024;
/**
 * The most one stored row holds, in characters (at most 3 bytes each in
 * UTF-8). PostgreSQL reads a whole value to give any part of it, so rows are
 * kept small enough that paging through a log never holds much at once.
 */
const ROW_CHARACTERS = 64 * 1024;
/** Rows per insert: a statement stays a few MiB however much a step printed meanwhile. */
const ROWS_PER_INSERT = 64;

/**
 * Collects a stage's output and appends it to the stored log in order, a
 * batch at a time, so a chatty step costs one insert per interval, not per
 * line. Past `maxBytes` the log ends with a line saying so and the rest of
 * the output is dropped; the stage itself goes on.
 */
export function logSink(pool: Pool, runId: number, stage: string, attempt: number, opts: { intervalMs?: number; maxBytes?: number } = {}) {
  const maxBytes = opts.maxBytes ?? DEFAULT_LOG_MAX_BYTES;
  let pending = '';
  let kept = 0;
  let full = false;
  let writing: Promise<void> = Promise.resolve();
  // A chunk the database would not take while it was away is tried again, in order,
  // once it is back (for up to a minute): a restart of PostgreSQL loses no output.
  const append = (chunks: string[]) => waitingOutOutages(() => logs.appendLog(pool, runId, stage, attempt, chunks)).catch(() => {});
  const flush = () => {
    if (!pending) return writing;
    const batch = pending;
    pending = '';
    writing = writing.then(async () => {
      // One statement per flush (at most ROWS_PER_INSERT rows): a chatty step costs a few round trips a second.
      const rows: string[] = [];
      for (let at = 0; at < batch.length; at += ROW_CHARACTERS) rows.push(batch.slice(at, at + ROW_CHARACTERS));
      for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) await append(rows.slice(i, i + ROWS_PER_INSERT));
    });
    return writing;
  };
  const timer = setInterval(flush, opts.intervalMs ?? 100);
  return {
    write(chunk: string) {
      if (full) return;
      // PostgreSQL's text cannot hold NUL: one would fail the whole insert, losing every line around it.
      let text = chunk.replaceAll('\u0000', '\uFFFD');
      const bytes = Buffer.byteLength(text);
      if (kept + bytes > maxBytes) {
        full = true;
        text = `${Buffer.from(text).subarray(0, maxBytes - kept).toString()}\nforgeline: the log reached its limit of ${maxBytes} bytes (FORGELINE_LOG_MAX_BYTES); the rest of the output is not kept\n`;
      }
      kept += bytes;
      pending += text;
    },
    async close() {
      clearInterval(timer);
      await flush();
    },
  };
}
