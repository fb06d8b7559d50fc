import type { Context, Next } from 'koa';
import { ConflictError, ForbiddenError, InputError, NotFoundError, UpstreamError } from '../scheduler/index.ts';

/**
 * The one place an error becomes an HTTP status: bad input 400, forbidden
 * 403, not found 404, conflict 409, a forge's refusal 502. A database that cannot be reached (503) and our own
 * faults (500) are answered by the app's outermost handler.
 */
export async function userErrors(ctx: Context, next: Next): Promise<void> {
  try {
    await next();
  } catch (err) {
    const status = err instanceof InputError ? 400 : err instanceof ForbiddenError ? 403 : err instanceof NotFoundError ? 404
      : err instanceof ConflictError ? 409 : err instanceof UpstreamError ? 502 : null;
    if (status === null) throw err;
    ctx.status = status;
    ctx.body = { error: (err as Error).message };
  }
}
