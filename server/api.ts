import Router from '@koa/router';
import type { Context } from 'koa';
import {
  addSource, AdminError, ApprovalError, approveStage, removeSource, rotateSecret, cancelRun, deliveryList, deliveryView, registerRepo, replayDelivery, rerunRun, RerunError,
  runList, runView, stageLog, triggerManual, TriggerError, type SchedulerDeps, type UrlPolicy,
} from '../scheduler/index.ts';
import { environments, repos, sources } from '../store/index.ts';
import { requireRole, type ApiAuth } from './auth.ts';
import { streamLog } from './log-stream.ts';

export type { ApiAuth };

function limitOf(value: unknown): number {
  const n = Number(value ?? 50);
  return Number.isInteger(n) && n > 0 ? Math.min(n, 200) : 50;
}

const text = (v: unknown) => (v === undefined || v === '' ? null : String(v));

/** Errors a caller can cause, answered with what to change. */
async function userErrors(ctx: Context, next: () => Promise<unknown>) {
  try {
    await next();
  } catch (err) {
    if (err instanceof ApprovalError || err instanceof RerunError) { ctx.status = 409; ctx.body = { error: err.message }; return; }
    if (err instanceof TriggerError || err instanceof AdminError) { ctx.status = 400; ctx.body = { error: err.message }; return; }
    throw err;
  }
}

/** The REST API (SPEC.md §7). */
export function apiRoutes(deps: SchedulerDeps, auth: ApiAuth, urls: UrlPolicy): Router {
  const { pool } = deps;
  const router = new Router({ prefix: '/api' });
  const read = requireRole(pool, auth, 'read');
  const write = requireRole(pool, auth, 'write');
  const approve = requireRole(pool, auth, 'approve');
  const admin = requireRole(pool, auth, 'admin');
  const notFound = (ctx: Context, what: string) => { ctx.status = 404; ctx.body = { error: `no ${what}` }; };
  const runId = (ctx: Context) => Number(ctx.params.id);
  router.use(userErrors);

  router.get('/repos', read, async (ctx) => {
    ctx.body = { items: (await repos.listRepos(pool)).map((r) => ({ id: r.id, forge: r.forge, name: r.name, cloneUrl: r.cloneUrl, apiUrl: r.apiUrl, forkPrs: r.forkPrs, hookUrl: `${deps.publicUrl}/hooks/${r.hookId}` })), next: null };
  });
  router.post('/repos', admin, async (ctx) => {
    const body = (ctx.request as unknown as { body?: Record<string, string> }).body ?? {};
    try {
      ctx.body = await registerRepo({ pool, box: deps.box, publicUrl: deps.publicUrl, urls }, {
        forge: body.forge ?? '', name: body.name ?? '', cloneUrl: body.cloneUrl, apiUrl: body.apiUrl, token: body.token ?? null, secret: body.secret, forkPrs: body.forkPrs,
        register: body.register === 'true' || (body.register as unknown) === true,
      }, ctx.state.actor as string);
      ctx.status = 201;
    } catch (err) {
      ctx.status = 400;
      ctx.body = { error: (err as Error).message };
    }
  });
  router.get('/repos/:id/environments', read, async (ctx) => {
    const repo = await repos.findRepo(pool, ctx.params.id!);
    if (!repo) return notFound(ctx, `repository ${ctx.params.id}`);
    ctx.body = { items: await environments.listEnvironments(pool, repo.id), next: null };
  });
  router.get('/repos/:id/environments/:name/deployments', read, async (ctx) => {
    const repo = await repos.findRepo(pool, ctx.params.id!);
    if (!repo) return notFound(ctx, `repository ${ctx.params.id}`);
    const limit = limitOf(ctx.query.limit);
    const items = await environments.listDeployments(pool, repo.id, ctx.params.name!, limit, ctx.query.cursor ? Number(ctx.query.cursor) : null);
    ctx.body = { items, next: items.length === limit ? String(items.at(-1)!.id) : null };
  });

  router.post('/repos/:id/rotate-secret', admin, async (ctx) => {
    ctx.body = await rotateSecret(deps, ctx.params.id!, { retireOld: ctx.query.retireOld === 'true' }, ctx.state.actor as string);
  });
  router.get('/repos/:id/sources', read, async (ctx) => {
    const repo = await repos.findRepo(pool, ctx.params.id!);
    if (!repo) return notFound(ctx, `repository ${ctx.params.id}`);
    ctx.body = { items: (await sources.listSources(pool, repo.id)).map(({ hookId: _hook, ...s }) => s), next: null };
  });
  router.post('/repos/:id/sources', admin, async (ctx) => {
    const body = (ctx.request as unknown as { body?: Record<string, unknown> }).body ?? {};
    ctx.status = 201;
    ctx.body = await addSource({ pool, box: deps.box, publicUrl: deps.publicUrl }, {
      repo: ctx.params.id!, name: String(body.name ?? ''), auth: String(body.auth ?? ''), secret: body.secret as string | undefined,
      signatureHeader: body.signatureHeader as string | undefined, typeFrom: body.typeFrom as string | undefined, idFrom: body.idFrom as string | undefined,
      allowCidrs: body.allowCidrs as string[] | undefined,
    }, ctx.state.actor as string);
  });
  router.delete('/repos/:id/sources/:name', admin, async (ctx) => {
    if (!(await removeSource(pool, ctx.params.id!, ctx.params.name!, ctx.state.actor as string))) return notFound(ctx, `source ${ctx.params.name}`);
    ctx.status = 204;
  });

  router.get('/runs', read, async (ctx) => {
    let repoId: string | null = null;
    if (ctx.query.repo) {
      const repo = await repos.findRepo(pool, String(ctx.query.repo));
      if (!repo) return notFound(ctx, `repository ${ctx.query.repo}`);
      repoId = repo.id;
    }
    ctx.body = await runList(pool, { repoId, sha: text(ctx.query.sha), ref: text(ctx.query.ref), status: text(ctx.query.status), limit: limitOf(ctx.query.limit), cursor: text(ctx.query.cursor) });
  });
  router.get('/runs/:id', read, async (ctx) => {
    const run = Number.isInteger(runId(ctx)) ? await runView(pool, runId(ctx)) : null;
    if (!run) return notFound(ctx, `run ${ctx.params.id}`);
    ctx.body = run;
  });
  router.get('/runs/:id/stages/:name/log', read, async (ctx) => {
    if (ctx.accepts('text/plain', 'text/event-stream') === 'text/event-stream' && ctx.get('accept').includes('text/event-stream')) {
      if (!(await streamLog(ctx, pool, runId(ctx), ctx.params.name!))) notFound(ctx, `stage ${ctx.params.name} in run ${ctx.params.id}`);
      return;
    }
    const log = await stageLog(pool, runId(ctx), ctx.params.name!);
    if (log === null) return notFound(ctx, `stage ${ctx.params.name} in run ${ctx.params.id}`);
    ctx.type = 'text/plain; charset=utf-8';
    ctx.body = log;
  });
  router.post('/runs/:id/cancel', write, async (ctx) => {
    const result = await cancelRun(deps, runId(ctx), ctx.state.actor as string);
    if (!result) return notFound(ctx, `run ${ctx.params.id}`);
    ctx.body = result;
  });
  router.post('/runs/:id/rerun', write, async (ctx) => {
    ctx.body = await rerunRun(deps, runId(ctx), ctx.state.actor as string);
  });
  router.post('/runs/:id/stages/:name/rerun', write, async (ctx) => {
    ctx.body = await rerunRun(deps, runId(ctx), ctx.state.actor as string, ctx.params.name);
  });
  router.post('/runs/:id/stages/:name/approve', approve, async (ctx) => {
    ctx.body = await approveStage(deps, runId(ctx), ctx.params.name!, ctx.state.actor as string);
  });
  router.post('/trigger', write, async (ctx) => {
    const body = (ctx.request as unknown as { body?: { repo?: string; ref?: string; pipeline?: string; inputs?: Record<string, string> } }).body ?? {};
    if (!body.repo || !body.ref) throw new TriggerError('give {"repo", "ref"} and optionally "pipeline" and "inputs"');
    ctx.status = 201;
    ctx.body = await triggerManual(deps, { repo: body.repo, ref: body.ref, pipeline: body.pipeline, inputs: body.inputs }, ctx.state.actor as string);
  });

  router.get('/deliveries', read, async (ctx) => {
    let repoId: string | null = null;
    if (ctx.query.repo) {
      const repo = await repos.findRepo(pool, String(ctx.query.repo));
      if (!repo) return notFound(ctx, `repository ${ctx.query.repo}`);
      repoId = repo.id;
    }
    ctx.body = await deliveryList(pool, { repoId, limit: limitOf(ctx.query.limit), cursor: text(ctx.query.cursor) });
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
