import { PassThrough } from 'node:stream';
import type { Context } from 'koa';

/**
 * Answers a request with server-sent events: the headers that keep proxies
 * from buffering, and a stream to write events to until the client goes.
 */
export function eventStream(ctx: Context): { stream: PassThrough; gone: Promise<void>; closed: () => boolean } {
  const stream = new PassThrough();
  ctx.type = 'text/event-stream';
  ctx.set('Cache-Control', 'no-cache');
  ctx.set('X-Accel-Buffering', 'no');
  ctx.body = stream;
  let closed = false;
  const gone = new Promise<void>((resolve) => ctx.req.once('close', () => { closed = true; resolve(); }));
  return { stream, gone, closed: () => closed };
}
