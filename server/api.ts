import Router from '@koa/router';
import type { Context, Next } from 'koa';
import { deliveryList, deliveryView, replayDelivery, runView, stageLog, type SchedulerDeps } from '../scheduler/index.ts';
import { repos } from '../store/index.ts';

export interface ApiAuth {
  apiToken: string | undefined;
  publicRead: boolean;
}

/**
 * Until named tokens with roles exist, FORGELINE_API_TOKEN is the one
 * (admin) token; reads are open with FORGELINE_PUBLIC_READ=true.
 */
function guard(auth: ApiAuth, access: 'read' | 'write') {
  return async (ctx: Context, next: Next) => {
    if (access === 'read' && auth.publicRead) return next();
    const given = ctx.get('authorization').replace(/^Bearer\s+/i, '');
    if (!auth.apiToken || given !== auth.apiToken) {
      ctx.status = 401;
      ctx.body = { error: 'a token is required: Authorization: Bearer <token>' };
      return;
    }
    ctx.state.actor = 'api-token';
    return next();
  };
}

function limitOf(value: unknown): number {
  const n = Number(value ?? 50);
  return Number.isInteger(n) && n > 0 ? Math.min(n, 200) : 50;
}

/** The REST API (SPEC.md §7). */
export function apiRoutes(deps: SchedulerDeps, auth: ApiAuth): Router {
  const { pool } = deps;
  const router = new Router({ prefix: '/api' });
  const read = guard(auth, 'read');
  const write = guard(auth, 'write');
  const notFound = (ctx: Context, what: string) => { ctx.status = 404; ctx.body = { error: `no ${what}` }; };

  router.get('/runs/:id', read, async (ctx) => {
    const id = Number(ctx.params.id);
    const run = Number.isInteger(id) ? await runView(pool, id) : null;
    if (!run) return notFound(ctx, `run ${ctx.params.id}`);
    ctx.body = run;
  });
  router.get('/runs/:id/stages/:name/log', read, async (ctx) => {
    const log = await stageLog(pool, Number(ctx.params.id), ctx.params.name!);
    if (log === null) return notFound(ctx, `stage ${ctx.params.name} in run ${ctx.params.id}`);
    ctx.type = 'text/plain; charset=utf-8';
    ctx.body = log;
  });
  router.get('/deliveries', read, async (ctx) => {
    let repoId: string | null = null;
    if (ctx.query.repo) {
      const repo = await repos.findRepo(pool, String(ctx.query.repo));
      if (!repo) return notFound(ctx, `repository ${ctx.query.repo}`);
      repoId = repo.id;
    }
    ctx.body = await deliveryList(pool, { repoId, limit: limitOf(ctx.query.limit), cursor: ctx.query.cursor ? String(ctx.query.cursor) : null });
  });
  router.get('/deliveries/:id', read, async (ctx) => {
    const delivery = await deliveryView(pool, ctx.params.id!);
    if (!delivery) return notFound(ctx, `delivery ${ctx.params.id}`);
    ctx.body = delivery;
  });
  router.post('/deliveries/:id/replay', write, async (ctx) => {
    const replayed = await replayDelivery(deps, ctx.params.id!, ctx.state.actor as string);
    if (!replayed) return notFound(ctx, `replayable delivery ${ctx.params.id}`);
    ctx.status = 201;
    ctx.body = replayed;
  });
  return router;
}
