import { once } from 'node:events';
import type { Context } from 'koa';
import { logs, runs, type Pool } from '../store/index.ts';
import { eventStream } from './event-stream.ts';

const FINAL = new Set(['success', 'failure', 'canceled', 'skipped']);

/**
 * GET …/log with Accept: text/event-stream: the stored log, then every new
 * chunk as it is written (polled every 250 ms from Postgres, which every
 * worker writes to), ending with an `end` event once the stage is final.
 */
export async function streamLog(ctx: Context, pool: Pool, runId: number, name: string): Promise<boolean> {
  const stage = (await runs.getStages(pool, runId)).find((s) => s.name === name);
  if (!stage) return false;
  const { stream, gone, closed: isClosed } = eventStream(ctx);
  let last = 0;
  // A slow reader is waited for, not buffered for: a large log is never whole in memory.
  const send = async (event: string, data: string) => {
    if (!stream.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`) && !isClosed()) await Promise.race([once(stream, 'drain'), gone]);
  };
  // Everything stored since the last read, a page at a time.
  const drain = async () => {
    for (let rows = await logs.readLogSince(pool, runId, name, stage.attempt, last); rows.length && !isClosed(); rows = await logs.readLogSince(pool, runId, name, stage.attempt, last)) {
      for (const row of rows) await send('log', row.chunk);
      last = rows.at(-1)!.id;
    }
  };
  void (async () => {
    try {
      while (!isClosed()) {
        await drain();
        const now = (await runs.getStages(pool, runId)).find((s) => s.name === name);
        if (!now || now.attempt !== stage.attempt || FINAL.has(now.status)) {
          // One more read: the final chunks are written just before the state changes.
          await drain();
          await send('end', now?.status ?? 'gone');
          break;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    } catch (err) {
      await send('error', (err as Error).message).catch(() => {});
    } finally {
      stream.end();
    }
  })();
  return true;
}
