import Router from '@koa/router';
import type { BlockList } from 'node:net';
import { readFileSync } from 'node:fs';
import type { Context, Next } from 'koa';
import { DEFAULT_CACHE_MAX_BYTES, type SchedulerDeps } from '../scheduler/index.ts';
import { providerFor } from '../providers/index.ts';
import { deliveryList, deliveryView, runList, runView } from './views.ts';
import { caches, deliveries, environments, repos, runs, sessions, tokens } from '../store/index.ts';
import { csrfToken, resolveSession, resolveToken, SESSION_COOKIE, SESSION_SECONDS, type ApiAuth } from './auth.ts';
import { clientView } from './client-address.ts';
import { esc, formatBytes, layout, statusBadge, when, type PageUser } from './ui-html.ts';
import { runPage } from './ui-run.ts';
import { RUNS_HEAD, runRows } from './ui-runs.ts';
import { pipelinePage } from './ui-pipeline.ts';
import { eventStream } from './event-stream.ts';

const ASSETS: Record<string, { type: string; body: string }> = {
  'style.css': { type: 'text/css', body: readFileSync(new URL('../ui/style.css', import.meta.url), 'utf8') },
  'app.js': { type: 'text/javascript', body: readFileSync(new URL('../ui/app.js', import.meta.url), 'utf8') },
  'log.js': { type: 'text/javascript', body: readFileSync(new URL('../ui/log.js', import.meta.url), 'utf8') },
};

/**
 * Where to go after logging in: a path of this server, never another site.
 * Browsers read `//host`, `/\\host` and the like as other origins, so the
 * path is resolved against a stand-in origin and kept only if it stays there.
 */
export function sameOriginPath(next: string | null): string {
  if (!next || !next.startsWith('/')) return '/';
  try {
    const base = 'http://forgeline.invalid';
    const url = new URL(next, base);
    return url.origin === base && !/^[/\\]{2}/.test(next.replace(/\\/g, '/')) ? `${url.pathname}${url.search}${url.hash}` : '/';
  } catch {
    return '/';
  }
}

/** The web UI (docs/api.md): server-rendered pages over the same views as the API; writes go through the API. */
export function uiRoutes(deps: SchedulerDeps, auth: ApiAuth, trustedProxies: BlockList | null = null): Router {
  const { pool } = deps;
  const router = new Router();

  const userOf = async (ctx: Context): Promise<PageUser | null> => {
    const session = ctx.cookies.get(SESSION_COOKIE);
    const who = await resolveSession(pool, auth, session);
    return who && session ? { ...who, csrf: csrfToken(session) } : null;
  };
  // Pages read like the API: a token (here the session cookie) unless FORGELINE_PUBLIC_READ.
  const page = async (ctx: Context, next: Next) => {
    ctx.state.user = await userOf(ctx);
    if (!ctx.state.user && !auth.publicRead) return ctx.redirect(`/login?next=${encodeURIComponent(ctx.url)}`);
    return next();
  };
  const can = (ctx: Context, role: 'write' | 'approve' | 'admin') => {
    const rank = { read: 0, write: 1, approve: 2, admin: 3 } as Record<string, number>;
    const user = ctx.state.user as PageUser | null;
    return Boolean(user && rank[user.role]! >= rank[role]!);
  };
  const html = (ctx: Context, title: string, body: string, opts: { state?: string; heading?: string } = {}) => {
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = layout(title, body, ctx.state.user as PageUser | null, opts);
  };

  router.get('/ui/:asset', (ctx) => {
    const asset = ASSETS[ctx.params.asset!];
    if (!asset) return;
    ctx.type = asset.type;
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = asset.body;
  });

  router.get('/login', async (ctx) => {
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = layout('Log in', `<form method="post" action="/login"><input type="hidden" name="next" value="${esc(ctx.query.next ?? '/')}">
<p><label>API token <input type="password" name="token" autocomplete="current-password" required size="48"></label></p>
${ctx.query.error ? '<p class="failure">That token is not valid.</p>' : ''}<p><button class="primary">Log in</button></p></form>`, null);
  });
  router.post('/login', async (ctx) => {
    const form = new URLSearchParams(await new Promise<string>((resolve) => {
      let body = '';
      ctx.req.on('data', (c: Buffer) => { body += c.toString(); if (body.length > 10_000) ctx.req.destroy(); });
      ctx.req.on('end', () => resolve(body));
    }));
    const token = form.get('token') ?? '';
    const next = sameOriginPath(form.get('next'));
    if (!(await resolveToken(pool, auth, token))) return ctx.redirect(`/login?error=1&next=${encodeURIComponent(next)}`);
    const session = await sessions.openSession(pool, tokens.tokenHash(token), SESSION_SECONDS);
    // Secure whenever the browser reached us over HTTPS: directly, or as a trusted proxy says.
    const https = clientView(ctx.req, trustedProxies).https;
    // The cookies library refuses a Secure cookie on what it takes for plain HTTP: it is told what we know.
    (ctx.cookies as unknown as { secure: boolean }).secure = https;
    ctx.cookies.set(SESSION_COOKIE, session, { httpOnly: true, sameSite: 'strict', secure: https, overwrite: true, maxAge: SESSION_SECONDS * 1000 });
    ctx.redirect(next);
  });
  router.get('/logout', async (ctx) => {
    const session = ctx.cookies.get(SESSION_COOKIE);
    if (session) await sessions.closeSession(pool, session);
    ctx.cookies.set(SESSION_COOKIE, null);
    ctx.redirect('/login');
  });

  /** The runs the list shows: its filters, a page at a time. */
  const listedRuns = async (ctx: Context) => {
    const repo = ctx.query.repo ? await repos.findRepo(pool, String(ctx.query.repo)) : null;
    const list = ctx.query.repo && !repo ? { items: [], next: null } : await runList(pool, {
      repoId: repo?.id ?? null, sha: null, ref: ctx.query.branch ? String(ctx.query.branch) : null,
      status: ctx.query.status ? String(ctx.query.status) : null, limit: 50, cursor: ctx.query.cursor ? String(ctx.query.cursor) : null,
    });
    return { list, repos: new Map((await repos.listRepos(pool)).map((r) => [r.id, r])) };
  };

  router.get('/', page, async (ctx) => {
    const { list, repos: known } = await listedRuns(ctx);
    const q = (extra: Record<string, string>) => new URLSearchParams({ ...Object.fromEntries(Object.entries(ctx.query).map(([k, v]) => [k, String(v)])), ...extra }).toString();
    const filtered = ['repo', 'branch', 'status'].filter((k) => ctx.query[k]).map((k) => `${k} ${ctx.query[k]}`).join(', ');
    html(ctx, filtered ? `Runs (${filtered})` : 'Runs', `<form class="filters" role="search"><label>Repository <select name="repo"><option value="">all</option>
${[...known.values()].map((r) => `<option value="${esc(r.name)}"${ctx.query.repo === r.name ? ' selected' : ''}>${esc(r.name)}</option>`).join('')}</select></label>
<label>Branch <input name="branch" placeholder="any" value="${esc(ctx.query.branch ?? '')}"></label><label>Status <select name="status"><option value="">any</option>
${['queued', 'waiting', 'running', 'success', 'failure', 'canceled', 'skipped'].map((s) => `<option${ctx.query.status === s ? ' selected' : ''}>${s}</option>`).join('')}</select></label><button>Filter</button></form>
<table class="runs"><thead>${RUNS_HEAD}</thead><tbody${ctx.query.cursor ? '' : ' data-live-rows'}>${runRows(list.items, known)}</tbody></table>
${list.next ? `<p><a href="/?${esc(q({ cursor: list.next }))}">Older runs →</a></p>` : ''}`);
  });
  // The list's rows alone, for the live refresh.
  router.get('/ui/runs/rows', page, async (ctx) => {
    const { list, repos: known } = await listedRuns(ctx);
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = runRows(list.items, known);
  });
  // `changed` whenever a run is created or changes state: the list fetches its rows again.
  router.get('/ui/runs/live', page, async (ctx) => {
    const { stream, closed } = eventStream(ctx);
    void (async () => {
      let last = await runs.changeMark(pool).catch(() => '');
      stream.write(': following\n\n');
      while (!closed()) {
        await new Promise((r) => setTimeout(r, 1000));
        const mark = await runs.changeMark(pool).catch(() => last);
        if (mark !== last && !closed()) stream.write(`event: changed\ndata: ${JSON.stringify(mark)}\n\n`);
        last = mark;
      }
      stream.end();
    })();
  });

  router.get('/runs/:id', page, async (ctx) => {
    const id = Number(ctx.params.id);
    const run = Number.isSafeInteger(id) ? await runView(pool, id) : null;
    if (!run) return;
    const repo = await repos.getRepo(pool, run.repo);
    const approvers = new Map<string, string[] | null>();
    for (const s of run.stages.filter((st) => st.status === 'waiting' && st.environment && repo)) {
      approvers.set(s.name, (await environments.getEnvironment(pool, repo!.id, s.environment!))?.approvers ?? null);
    }
    const pageOf = runPage(run, {
      repo, approvers, can: (role) => can(ctx, role),
      commitUrl: repo ? providerFor(repo.forge)?.credentials.commitUrl(repo.cloneUrl, run.sha) ?? null : null,
    });
    html(ctx, pageOf.title, pageOf.body, { state: run.status, heading: pageOf.heading });
  });

  router.get('/deliveries', page, async (ctx) => {
    const list = await deliveryList(pool, { repoId: null, limit: 50, cursor: ctx.query.cursor ? String(ctx.query.cursor) : null });
    html(ctx, 'Deliveries', `<table><thead><tr><th>Delivery</th><th>Repository</th><th>Event</th><th>Status</th><th>Reason</th><th>Received</th></tr></thead><tbody>
${list.items.map((d) => `<tr><td><a href="/deliveries/${esc(d.id)}">${esc(d.id.slice(0, 8))}</a></td><td>${esc(d.repo ?? '')}</td><td>${esc(d.event ?? '')}</td><td>${statusBadge(d.status)}</td><td>${esc(d.reason ?? '')}</td><td>${when(d.receivedAt)}</td></tr>`).join('')}
</tbody></table>${list.next ? `<p><a href="/deliveries?cursor=${esc(list.next)}">Older deliveries →</a></p>` : ''}`);
  });

  router.get('/deliveries/:id', page, async (ctx) => {
    const d = await deliveryView(pool, ctx.params.id!);
    if (!d) return;
    const body = (await deliveries.deliveryBody(pool, d.id))?.toString('utf8') ?? '';
    let pretty = body;
    try { pretty = JSON.stringify(JSON.parse(body), null, 2); } catch { /* shown as sent */ }
    const explain = d.explain
      .map((x) => `<li>${esc(x.event.kind)}${x.reason ? `: ${esc(x.reason)}` : ''}<ul>${x.pipelines.map((p) => `<li>${p.triggered ? '✓' : '✗'} <strong>${esc(p.name)}</strong>: ${esc(p.reason)}${p.run ? ` → <a href="/runs/${p.run}">run #${p.run}</a>` : ''}</li>`).join('')}</ul></li>`).join('');
    html(ctx, `Delivery ${d.id.slice(0, 8)}`, `<p>${statusBadge(d.status)} ${esc(d.reason ?? '')} · ${esc(d.forge)} · ${esc(d.repo ?? '')} · ${when(d.receivedAt)}</p>
${can(ctx, 'write') ? `<p><button data-post="/api/deliveries/${esc(d.id)}/replay" data-reload="false">Replay</button></p>` : ''}
<h2>Why did it run (or not)?</h2><ul class="explain">${explain || '<li class="muted">Not planned yet.</li>'}</ul>
<h2>Runs</h2><p>${d.runs.map((r) => `<a href="/runs/${r}">#${r}</a>`).join(' ') || '<span class="muted">none</span>'}</p>
<h2>Headers</h2><pre class="json">${esc(JSON.stringify(d.headers, null, 2))}</pre><h2>Body</h2><pre class="json">${esc(pretty)}</pre>`);
  });

  router.get('/repos', page, async (ctx) => {
    const list = await repos.listRepos(pool);
    html(ctx, 'Repositories', `<table><thead><tr><th>Repository</th><th>Forge</th><th>Hook URL</th><th></th></tr></thead><tbody>
${list.map((r) => `<tr><td><a href="/repos/${esc(r.id)}/environments">${esc(r.name)}</a> · <a href="/repos/${esc(r.id)}/caches">caches</a></td><td>${esc(r.forge)}</td><td><code>${esc(deps.publicUrl)}/hooks/${esc(r.hookId)}</code></td>
<td>${can(ctx, 'admin') ? `<button data-post="/api/repos/${esc(r.id)}/rotate-secret" data-reload="false">Rotate secret</button>` : ''}</td></tr>`).join('')}</tbody></table>`);
  });

  router.get('/repos/:id/environments', page, async (ctx) => {
    const repo = await repos.findRepo(pool, ctx.params.id!);
    if (!repo) return;
    const envs = await environments.listEnvironments(pool, repo.id);
    const sections = await Promise.all(envs.map(async (env) => {
      const history = await environments.listDeployments(pool, repo.id, env.name, 20, null);
      const waiting = await runs.waitingForEnvironment(pool, repo.id, env.name);
      return `<h2>${esc(env.name)}</h2><p>${env.deployed ? `deployed: <code>${esc(env.deployed.sha.slice(0, 12))}</code> by <a href="/runs/${env.deployed.runId}">run #${env.deployed.runId}</a>` : '<span class="muted">nothing deployed yet</span>'}
· branches ${esc(env.branches?.join(', ') ?? 'any')} · approval ${env.approval ? 'required' : 'none'}${env.approvers ? ` by ${esc(env.approvers.join(', '))}` : ''}</p>
${waiting.length ? `<h3>Waiting</h3><ul>${waiting.map((w) => `<li><a href="/runs/${w.runId}">run #${w.runId}</a> ${esc(w.name)}: ${esc(w.reason)}
${w.waitingFor === 'approval' && can(ctx, 'approve') ? `<button class="primary" data-post="/api/runs/${w.runId}/stages/${encodeURIComponent(w.name)}/approve">Approve</button>` : ''}</li>`).join('')}</ul>` : ''}
<table><thead><tr><th>Run</th><th>Commit</th><th>Status</th><th>Approved by</th><th>Finished</th></tr></thead><tbody>
${history.map((h: any) => `<tr><td><a href="/runs/${h.runId}">#${h.runId}</a> ${esc(h.stage)}</td><td><code>${esc(String(h.sha).slice(0, 12))}</code></td><td>${statusBadge(h.status)}</td><td>${esc(h.approvedBy ?? '')}</td><td>${when(h.finishedAt)}</td></tr>`).join('')}</tbody></table>`;
    }));
    html(ctx, `Environments of ${repo.name}`, sections.join('') || '<p class="muted">No environments: set one with <code>forgeline env set</code>.</p>');
  });
  router.get('/repos/:id/pipelines/:name', page, async (ctx) => {
    const repo = await repos.findRepo(pool, ctx.params.id!);
    if (!repo) return;
    const pipeline = ctx.params.name!;
    const recent = await runList(pool, { repoId: repo.id, sha: null, ref: null, status: null, pipeline, limit: 50, cursor: null });
    const newest = recent.items[0] ? await runs.getRun(pool, recent.items[0].id) : null;
    const body = pipelinePage(repo, pipeline, recent.items, await runs.newestPerBranch(pool, repo.id, pipeline), newest?.definition?.on.manual?.inputs ?? null, can(ctx, 'write'));
    html(ctx, `${pipeline} · ${repo.name}`, body);
  });

  // The favicon, tinted with a run's state on run pages.
  router.get(['/favicon.svg', '/favicon.ico'], (ctx) => {
    const colour: Record<string, string> = { success: '#1a7f37', failure: '#cf222e', canceled: '#6a6f75', running: '#0969da', waiting: '#9a6700', queued: '#9a6700', skipped: '#6a6f75' };
    const fill = colour[String(ctx.query.state)] ?? '#24292f';
    ctx.type = 'image/svg+xml';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="${fill}"/><path d="M9 8h14v4H13v4h8v4h-8v4H9z" fill="#fff"/></svg>`;
  });

  router.get('/repos/:id/caches', page, async (ctx) => {
    const repo = await repos.findRepo(pool, ctx.params.id!);
    if (!repo) return;
    const list = await caches.listCaches(pool, repo.id);
    const total = list.reduce((n, c) => n + c.bytes, 0);
    const cap = deps.cacheMaxBytes ?? DEFAULT_CACHE_MAX_BYTES;
    const remove = (query: string, label: string) => can(ctx, 'write') ? `<button data-method="DELETE" data-post="/api/repos/${esc(repo.id)}/caches?${query}">${label}</button>` : '';
    html(ctx, `Caches of ${repo.name}`, `<p>${formatBytes(total)} of ${formatBytes(cap)} (FORGELINE_CACHE_MAX_BYTES); the least recently used go first. ${list.length ? remove('', 'Delete all') : ''}</p>
${list.length ? `<table><thead><tr><th>Key</th><th>Branch</th><th>Files</th><th>Size</th><th>Saved</th><th>Last used</th><th></th></tr></thead><tbody>
${list.map((c) => `<tr><td><code>${esc(c.key)}</code></td><td>${esc(c.branch)}</td><td>${c.files}</td><td>${formatBytes(c.bytes)}</td><td>${c.runId ? `<a href="/runs/${c.runId}">${when(c.createdAt)}</a>` : when(c.createdAt)}</td><td>${when(c.lastUsedAt)}</td>
<td>${remove(`key=${encodeURIComponent(c.key)}&branch=${encodeURIComponent(c.branch)}`, 'Delete')}</td></tr>`).join('')}</tbody></table>` : '<p class="muted">No caches yet: a stage with <code>cache:</code> saves one after its first success.</p>'}`);
  });
  return router;
}
