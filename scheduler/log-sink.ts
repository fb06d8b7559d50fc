import { logs, type Pool } from '../store/index.ts';

// A chunk the database would not take (it was away) is tried again, in order,
// for this long before it is given up: a restart of PostgreSQL loses no output.
const GIVE_UP_MS = 60_000;

/**
 * Collects a stage's output and appends it to the stored log in order, a
 * batch at a time, so a chatty step costs one insert per interval, not per line.
 */
export function logSink(pool: Pool, runId: number, stage: string, attempt: number, intervalMs = 100) {
  let pending = '';
  let writing: Promise<void> = Promise.resolve();
  const append = async (chunk: string) => {
    const deadline = Date.now() + GIVE_UP_MS;
    for (let wait = 250; ; wait = Math.min(wait * 2, 5000)) {
      try {
        return await logs.appendLog(pool, runId, stage, attempt, chunk);
      } catch {
        if (Date.now() > deadline) return;
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  };
  const flush = () => {
    if (!pending) return writing;
    const chunk = pending;
    pending = '';
    writing = writing.then(() => append(chunk));
    return writing;
  };
  const timer = setInterval(flush, intervalMs);
  return {
    write(chunk: string) { pending += chunk; },
    async close() {
      clearInterval(timer);
      await flush();
    },
  };
}
