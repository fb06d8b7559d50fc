import type { Context, Next } from 'koa';
import { BodyTooLarge, readRawBody } from './raw-body.ts';

const MAX_API_BODY = 1024 * 1024;

/** Parses JSON request bodies of the API (hooks read their raw bytes themselves). */
export async function jsonBody(ctx: Context, next: Next) {
  if ((ctx.method === 'POST' || ctx.method === 'PUT' || ctx.method === 'PATCH') && ctx.path.startsWith('/api/') && ctx.is('application/json')) {
    let raw: Buffer;
    try {
      raw = await readRawBody(ctx.req, MAX_API_BODY);
    } catch (err) {
      if (!(err instanceof BodyTooLarge)) throw err;
      ctx.status = 413;
      ctx.body = { error: `the body is over ${MAX_API_BODY / 1024} KiB` };
      return;
    }
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
