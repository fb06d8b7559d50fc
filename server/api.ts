import { Readable } from 'node:stream';
import Router from '@koa/router';
import type { Context } from 'koa';
import { addToken, approveStage, cancelRun, InputError, NotFoundError, listSecrets, removeEnvironment, removeSecret, rerunRun, revokeToken, setEnvironment, setSecret, triggerManual, type SchedulerDeps } from '../scheduler/index.ts';
import { addSource, registerRepo, removeRepository, removeSource, replayDelivery, rotateSecret, rotateSourceSecret, type UrlPolicy } from '../ingest/index.ts';
import { deliveryList, deliveryView, idCursor, runList, runView, stageLog } from './views.ts';
import { audit, caches, environments, repos, sources, tokens } from '../store/index.ts';
import { DEFAULT_CACHE_MAX_BYTES, deleteCaches } from '../scheduler/index.ts';
import { requireRole, type ApiAuth } from './auth.ts';
import { userErrors } from './errors.ts';
import { streamLog } from './log-stream.ts';

export type { ApiAuth };

function limitOf(value: unknown): number {
  const n = Number(value ?? 50);
  return Number.isInteger(n) && n > 0 ? Math.min(n, 200) : 50;
}

const text = (v: unknown) => (v === undefined || v === '' ? null : String(v));

type Body = Record<string, unknown>;
const bodyOf = (ctx: Context): Body => {
  const body = (ctx.request as unknown as { body?: unknown }).body;
  if (body !== undefined && (typeof body !== 'object' || body === null || Array.isArray(body))) throw new InputError('the body must be a JSON object');
  return (body ?? {}) as Body;
};
/** A string field, absent, or a 400 naming it: never a value of another type taken on trust. */
function field(body: Body, key: string, required: true): string;
function field(body: Body, key: string, required?: false): string | undefined;
function field(body: Body, key: string, required = false): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) {
    if (required) throw new InputError(`"${key}" is required`);
    return undefined;
  }
  if (typeof value !== 'string') throw new InputError(`"${key}" must be a string`);
  return value;
}
function stringList(body: Body, key: string): string[] | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new InputError(`"${key}" must be a list of strings`);
  return value as string[];
}
const flag = (value: unknown) => value === true || value === 'true';

/** The REST API (docs/api.md). */
export function apiRoutes(deps: SchedulerDeps, auth: ApiAuth, urls: UrlPolicy): Router {
  const { pool } = deps;
  const router = new Router({ prefix: '/api' });
  const read = requireRole(pool, auth, 'read');
  const write = requireRole(pool, auth, 'write');
  const approve = requireRole(pool, auth, 'approve');
  const admin = requireRole(pool, auth, 'admin');
  const notFound = (ctx: Context, what: string) => { ctx.status = 404; ctx.body = { error: `no ${what}` }; };
  // An id no run can have (not a whole number, or past bigint) is simply no run: 404, not a database error.
  const runId = (ctx: Context) => {
    const n = Number(ctx.params.id);
    if (!/^\d{1,15}$/.test(ctx.params.id!) || !Number.isSafeInteger(n)) throw new NotFoundError(`no run ${ctx.params.id}`);
    return n;
  };
  router.use(userErrors);

  router.get('/repos', read, async (ctx) => {
    ctx.body = { items: (await repos.listRepos(pool)).map((r) => ({ id: r.id, forge: r.forge, name: r.name, cloneUrl: r.cloneUrl, apiUrl: r.apiUrl, forkPrs: r.forkPrs, hookUrl: `${deps.publicUrl}/hooks/${r.hookId}` })), next: null };
  });
  router.post('/repos', admin, async (ctx) => {
    const body = bodyOf(ctx);
    const app = body.githubApp as Body | undefined;
    ctx.body = await registerRepo({ pool, box: deps.box, publicUrl: deps.publicUrl, urls }, {
      forge: field(body, 'forge', true), name: field(body, 'name', true), cloneUrl: field(body, 'cloneUrl'), apiUrl: field(body, 'apiUrl'), token: field(body, 'token') ?? null,
      secret: field(body, 'secret'), forkPrs: field(body, 'forkPrs'), register: flag(body.register), allowCidrs: stringList(body, 'allowCidrs'),
      app: app ? { appId: field(app, 'appId', true), privateKey: field(app, 'privateKey', true) } : null,
    }, ctx.state.actor as string);
    ctx.status = 201;
  });
  router.patch('/repos/:id', admin, async (ctx) => {
    const repo = await repos.findRepo(pool, ctx.params.id!);
    if (!repo) return notFound(ctx, `repository ${ctx.params.id}`);
    const body = bodyOf(ctx);
    if (body.publicBadges !== undefined) {
      if (typeof body.publicBadges !== 'boolean') throw new InputError('"publicBadges" must be true or false');
      await repos.setPublicBadges(pool, repo.id, body.publicBadges);
      await audit(pool, { actor: ctx.state.actor as string, action: 'repo.badges', reason: `${repo.name}: badges ${body.publicBadges ? 'public' : 'behind a token'}` });
    }
    const now = (await repos.getRepo(pool, repo.id))!;
    ctx.body = { id: now.id, name: now.name, publicBadges: now.publicBadges };
  });
  router.delete('/repos/:id', admin, async (ctx) => {
    ctx.body = await removeRepository(deps, ctx.params.id!, ctx.state.actor as string);
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
    const items = await environments.listDeployments(pool, repo.id, ctx.params.name!, limit, ctx.query.cursor ? idCursor(String(ctx.query.cursor)) : null);
    ctx.body = { items, next: items.length === limit ? String(items.at(-1)!.id) : null };
  });

  router.put('/repos/:id/environments/:name', admin, async (ctx) => {
    const body = bodyOf(ctx);
    const approval = field(body, 'approval') ?? 'none';
    if (approval !== 'required' && approval !== 'none') throw new InputError('"approval" must be required or none');
    ctx.body = await setEnvironment(pool, {
      repo: ctx.params.id!, name: ctx.params.name!, branches: stringList(body, 'branches') ?? null, tags: stringList(body, 'tags') ?? null, approval: approval === 'required',
      approvers: stringList(body, 'approvers') ?? null,
    }, ctx.state.actor as string);
  });
  router.delete('/repos/:id/environments/:name', admin, async (ctx) => {
    if (!(await removeEnvironment(pool, { repo: ctx.params.id!, name: ctx.params.name! }, ctx.state.actor as string))) return notFound(ctx, `environment ${ctx.params.name}`);
    ctx.status = 204;
  });

  router.get('/repos/:id/secrets', admin, async (ctx) => {
    ctx.body = { items: await listSecrets(pool, ctx.params.id!), next: null };
  });
  router.put('/repos/:id/secrets/:name', admin, async (ctx) => {
    const body = bodyOf(ctx);
    ctx.body = await setSecret(deps, { repo: ctx.params.id!, environment: field(body, 'environment') ?? null, name: ctx.params.name!, value: field(body, 'value', true) }, ctx.state.actor as string);
  });
  router.delete('/repos/:id/secrets/:name', admin, async (ctx) => {
    if (!(await removeSecret(pool, { repo: ctx.params.id!, environment: text(ctx.query.environment), name: ctx.params.name! }, ctx.state.actor as string))) return notFound(ctx, `secret ${ctx.params.name}`);
    ctx.status = 204;
  });

  router.post('/repos/:id/rotate-secret', admin, async (ctx) => {
    const body = bodyOf(ctx);
    ctx.body = await rotateSecret(deps, ctx.params.id!, { retireOld: flag(body.retireOld ?? ctx.query.retireOld), secret: field(body, 'secret') }, ctx.state.actor as string);
  });
  router.get('/repos/:id/caches', read, async (ctx) => {
    const repo = await repos.findRepo(pool, ctx.params.id!);
    if (!repo) return notFound(ctx, `repository ${ctx.params.id}`);
    const items = await caches.listCaches(pool, repo.id);
    ctx.body = { items, totalBytes: items.reduce((n, c) => n + c.bytes, 0), maxBytes: deps.cacheMaxBytes ?? DEFAULT_CACHE_MAX_BYTES, next: null };
  });
  router.delete('/repos/:id/caches', write, async (ctx) => {
    const repo = await repos.findRepo(pool, ctx.params.id!);
    if (!repo) return notFound(ctx, `repository ${ctx.params.id}`);
    const key = text(ctx.query.key);
    const branch = text(ctx.query.branch);
    const deleted = await deleteCaches(deps, repo.id, key, branch);
    await audit(pool, { actor: ctx.state.actor as string, action: 'caches.delete', reason: `${repo.name}: ${deleted} cache(s)${key ? ` of key ${key}` : ''}${branch ? ` on ${branch}` : ''}` });
    ctx.body = { deleted };
  });
  router.get('/repos/:id/sources', read, async (ctx) => {
    const repo = await repos.findRepo(pool, ctx.params.id!);
    if (!repo) return notFound(ctx, `repository ${ctx.params.id}`);
    ctx.body = { items: (await sources.listSources(pool, repo.id)).map(({ hookId: _hook, ...s }) => s), next: null };
  });
  router.post('/repos/:id/sources', admin, async (ctx) => {
    const body = bodyOf(ctx);
    ctx.body = await addSource({ pool, box: deps.box, publicUrl: deps.publicUrl }, {
      repo: ctx.params.id!, name: field(body, 'name', true), auth: field(body, 'auth', true), secret: field(body, 'secret'),
      signatureHeader: field(body, 'signatureHeader'), typeFrom: field(body, 'typeFrom'), idFrom: field(body, 'idFrom'), allowCidrs: stringList(body, 'allowCidrs'),
    }, ctx.state.actor as string);
    ctx.status = 201;
  });
  router.post('/repos/:id/sources/:name/rotate-secret', admin, async (ctx) => {
    ctx.body = await rotateSourceSecret(deps, ctx.params.id!, ctx.params.name!, { retireOld: flag(bodyOf(ctx).retireOld) }, ctx.state.actor as string);
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
    const run = await runView(pool, runId(ctx));
    if (!run) return notFound(ctx, `run ${ctx.params.id}`);
    ctx.body = run;
  });
  router.get('/runs/:id/stages/:name/log', read, async (ctx) => {
    if (ctx.accepts('text/plain', 'text/event-stream') === 'text/event-stream' && ctx.get('accept').includes('text/event-stream')) {
      if (!(await streamLog(ctx, pool, runId(ctx), ctx.params.name!))) notFound(ctx, `stage ${ctx.params.name} in run ${ctx.params.id}`);
      return;
    }
    const attempt = ctx.query.attempt === undefined ? undefined : Number(ctx.query.attempt);
    const log = await stageLog(pool, runId(ctx), ctx.params.name!, attempt);
    if (log === null) return notFound(ctx, attempt === undefined ? `stage ${ctx.params.name} in run ${ctx.params.id}` : `attempt ${ctx.query.attempt} of stage ${ctx.params.name} in run ${ctx.params.id}`);
    ctx.type = 'text/plain; charset=utf-8';
    // Streamed a page at a time: a large log is never whole in memory.
    ctx.body = Readable.from(log);
  });
  router.post('/runs/:id/cancel', write, async (ctx) => {
    const result = await cancelRun(deps, runId(ctx), ctx.state.actor as string);
    if (!result) return notFound(ctx, `run ${ctx.params.id}`);
    ctx.body = result;
  });
  router.post('/runs/:id/rerun', write, async (ctx) => {
    ctx.body = await rerunRun(deps, runId(ctx), ctx.state.actor as string, undefined, { failedOnly: flag(ctx.query.failed) });
  });
  router.post('/runs/:id/stages/:name/rerun', write, async (ctx) => {
    ctx.body = await rerunRun(deps, runId(ctx), ctx.state.actor as string, ctx.params.name);
  });
  router.post('/runs/:id/stages/:name/approve', approve, async (ctx) => {
    ctx.body = await approveStage(deps, runId(ctx), ctx.params.name!, ctx.state.actor as string);
  });
  router.post('/trigger', write, async (ctx) => {
    const body = bodyOf(ctx);
    const inputs = body.inputs ?? {};
    if (typeof inputs !== 'object' || Array.isArray(inputs) || Object.values(inputs as Body).some((v) => typeof v !== 'string')) throw new InputError('"inputs" must be an object of strings');
    ctx.body = await triggerManual(deps, { repo: field(body, 'repo', true), ref: field(body, 'ref', true), pipeline: field(body, 'pipeline'), inputs: inputs as Record<string, string> }, ctx.state.actor as string);
    ctx.status = 201;
  });

  router.get('/token', read, async (ctx) => {
    if (!ctx.state.actor) { ctx.status = 401; ctx.body = { error: 'no token was given: Authorization: Bearer <token>' }; return; }
    ctx.body = { name: ctx.state.actor, role: ctx.state.role };
  });
  router.get('/tokens', admin, async (ctx) => {
    ctx.body = { items: await tokens.listTokens(pool), next: null };
  });
  router.post('/tokens', admin, async (ctx) => {
    const body = bodyOf(ctx);
    ctx.body = await addToken(pool, field(body, 'name', true), field(body, 'role', true), ctx.state.actor as string);
    ctx.status = 201;
  });
  router.delete('/tokens/:name', admin, async (ctx) => {
    if (!(await revokeToken(pool, ctx.params.name!, ctx.state.actor as string))) return notFound(ctx, `active token ${ctx.params.name}`);
    ctx.status = 204;
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
