import { PassThrough } from 'node:stream';
import type { Context } from 'koa';
import { logs, runs, type Pool } from '../store/index.ts';

const FINAL = new Set(['success', 'failure', 'canceled', 'skipped']);

/**
 * GET …/log with Accept: text/event-stream: the stored log, then every new
 * chunk as it is written (polled every 250 ms from Postgres, which every
 * worker writes to), ending with an `end` event once the stage is final.
 */
export async function streamLog(ctx: Context, pool: Pool, runId: number, name: string): Promise<boolean> {
  const stage = (await runs.getStages(pool, runId)).find((s) => s.name === name);
  if (!stage) return false;
  const stream = new PassThrough();
  ctx.type = 'text/event-stream';
  ctx.set('Cache-Control', 'no-cache');
  ctx.set('X-Accel-Buffering', 'no');
  ctx.body = stream;
  let last = 0;
  let closed = false;
  ctx.req.on('close', () => { closed = true; });
  const send = (event: string, data: string) => stream.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  void (async () => {
    try {
      while (!closed) {
        for (const row of await logs.readLogSince(pool, runId, name, stage.attempt, last)) {
          send('log', row.chunk);
          last = row.id;
        }
        const now = (await runs.getStages(pool, runId)).find((s) => s.name === name);
        if (!now || now.attempt !== stage.attempt || FINAL.has(now.status)) {
          // One more read: the final chunks are written just before the state changes.
          for (const row of await logs.readLogSince(pool, runId, name, stage.attempt, last)) send('log', row.chunk);
          send('end', now?.status ?? 'gone');
          break;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    } catch (err) {
      send('error', (err as Error).message);
    } finally {
      stream.end();
    }
  })();
  return true;
}
