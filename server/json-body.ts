import type { Context, Next } from 'koa';
import { readRawBody } from './raw-body.ts';

/** Parses JSON request bodies of the API (hooks read their raw bytes themselves). */
export async function jsonBody(ctx: Context, next: Next) {
  if (ctx.method === 'POST' && ctx.path.startsWith('/api/') && ctx.is('application/json')) {
    const raw = await readRawBody(ctx.req, 1024 * 1024);
    try {
      (ctx.request as unknown as { body: unknown }).body = raw.length ? JSON.parse(raw.toString('utf8')) : {};
    } catch {
      ctx.status = 400;
      ctx.body = { error: 'the body is not JSON' };
      return;
    }
  }
  return next();
}
