import Router from '@koa/router';
import { receiveHook, type IngestDeps } from '../scheduler/index.ts';
import { BodyTooLarge, readRawBody } from './raw-body.ts';

const CONTENT_TYPES = ['application/json', 'application/x-www-form-urlencoded'];

/** POST /hooks/<hookId> and /hooks/<forge>: the front door. The rules live in scheduler/ingest.ts. */
export function hookRoutes(deps: IngestDeps, bodyLimit: number): Router {
  const router = new Router();
  router.all('/hooks/:hook', async (ctx) => {
    if (ctx.method !== 'POST') {
      ctx.set('Allow', 'POST');
      ctx.status = 405;
      return;
    }
    const type = (ctx.get('content-type').split(';')[0] ?? '').trim().toLowerCase();
    if (!CONTENT_TYPES.includes(type)) {
      ctx.status = 415;
      ctx.body = { error: `content type must be one of ${CONTENT_TYPES.join(', ')}` };
      return;
    }
    let rawBody: Buffer;
    try {
      rawBody = await readRawBody(ctx.req, bodyLimit);
    } catch (err) {
      if (!(err instanceof BodyTooLarge)) throw err;
      ctx.status = 413;
      ctx.body = { error: `body over the limit of ${bodyLimit} bytes` };
      return;
    }
    const answer = await receiveHook(deps, {
      hook: ctx.params.hook!, headers: ctx.req.headers, rawBody, sourceAddress: ctx.request.ip || null,
    });
    ctx.status = answer.status;
    for (const [name, value] of Object.entries(answer.headers ?? {})) ctx.set(name, value);
    if (answer.body) ctx.body = answer.body;
  });
  return router;
}
