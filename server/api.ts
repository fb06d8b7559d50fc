import Router from '@koa/router';
import { deliveryView, runView, stageLog } from '../scheduler/index.ts';
import type { Pool } from '../store/index.ts';

export interface ApiAuth {
  apiToken: string | undefined;
  publicRead: boolean;
}

/** The REST API (SPEC.md §7). Reads need the API token unless FORGELINE_PUBLIC_READ=true. */
export function apiRoutes(pool: Pool, auth: ApiAuth): Router {
  const router = new Router({ prefix: '/api' });
  router.use(async (ctx, next) => {
    if (!auth.publicRead) {
      const given = ctx.get('authorization').replace(/^Bearer\s+/i, '');
      if (!auth.apiToken || given !== auth.apiToken) {
        ctx.status = 401;
        ctx.body = { error: 'a token is required: Authorization: Bearer <token>' };
        return;
      }
    }
    await next();
  });
  router.get('/runs/:id', async (ctx) => {
    const id = Number(ctx.params.id);
    const run = Number.isInteger(id) ? await runView(pool, id) : null;
    if (!run) { ctx.status = 404; ctx.body = { error: `no run ${ctx.params.id}` }; return; }
    ctx.body = run;
  });
  router.get('/runs/:id/stages/:name/log', async (ctx) => {
    const log = await stageLog(pool, Number(ctx.params.id), ctx.params.name!);
    if (log === null) { ctx.status = 404; ctx.body = { error: `no stage ${ctx.params.name} in run ${ctx.params.id}` }; return; }
    ctx.type = 'text/plain; charset=utf-8';
    ctx.body = log;
  });
  router.get('/deliveries/:id', async (ctx) => {
    const delivery = await deliveryView(pool, ctx.params.id!);
    if (!delivery) { ctx.status = 404; ctx.body = { error: `no delivery ${ctx.params.id}` }; return; }
    ctx.body = delivery;
  });
  return router;
}
