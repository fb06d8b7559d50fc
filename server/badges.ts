import Router from '@koa/router';
import type { Context } from 'koa';
import { repos, runs, type Pool } from '../store/index.ts';
import { requireRole, type ApiAuth } from './auth.ts';
import { esc } from './ui-html.ts';

/** What a badge says for a run's state, and its colour. */
const LOOK: Record<string, { text: string; colour: string }> = {
  success: { text: 'passing', colour: '#1a7f37' },
  failure: { text: 'failing', colour: '#cf222e' },
  canceled: { text: 'canceled', colour: '#6a6f75' },
  skipped: { text: 'skipped', colour: '#6a6f75' },
  running: { text: 'running', colour: '#0969da' },
  queued: { text: 'pending', colour: '#9a6700' },
  waiting: { text: 'pending', colour: '#9a6700' },
};
const UNKNOWN = { text: 'unknown', colour: '#6a6f75' };

/** Verdana 11px, as shields draw them: wide enough for any pipeline name without measuring fonts. */
const width = (text: string) => Math.round(text.length * 6.5 + 12);

/** A flat two-part badge: the pipeline's name, and how its newest run went. */
export function badgeSvg(label: string, state: string | null): string {
  const look = (state && LOOK[state]) || UNKNOWN;
  const left = width(label);
  const right = width(look.text);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${left + right}" height="20" role="img" aria-label="${esc(label)}: ${look.text}">
<title>${esc(label)}: ${look.text}</title>
<rect width="${left}" height="20" fill="#555"/><rect x="${left}" width="${right}" height="20" fill="${look.colour}"/>
<g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">
<text x="${left / 2}" y="14">${esc(label)}</text><text x="${left + right / 2}" y="14">${look.text}</text></g></svg>`;
}

/**
 * GET /badge/<owner>/<repo>/<pipeline>.svg[?branch=]: the newest run of the
 * pipeline on the branch (the default branch when omitted). Without a token
 * only where reads are public or the repository allows public badges.
 */
export function badgeRoutes(pool: Pool, auth: ApiAuth): Router {
  const router = new Router();
  const read = requireRole(pool, auth, 'read');
  // `*path`: a repository's name holds slashes (GitLab's subgroups more than one).
  router.get('/badge/*path', async (ctx: Context) => {
    const parts = (ctx.params.path as unknown as string[] | string);
    const segments = (Array.isArray(parts) ? parts : String(parts).split('/')).map((p) => decodeURIComponent(p));
    const file = segments.pop() ?? '';
    if (!file.endsWith('.svg') || segments.length < 1) {
      ctx.status = 404;
      ctx.body = { error: 'a badge is /badge/<owner>/<repo>/<pipeline>.svg' };
      return;
    }
    const [name, pipeline] = [segments.join('/'), file.slice(0, -'.svg'.length)];
    const repo = await repos.findRepo(pool, name);
    if (!repo) {
      ctx.status = 404;
      ctx.body = { error: `no repository ${name}` };
      return;
    }
    const answer = async () => {
      const branch = typeof ctx.query.branch === 'string' && ctx.query.branch ? ctx.query.branch : repo.defaultBranch ?? 'main';
      const state = await runs.newestOnBranch(pool, repo.id, pipeline, branch);
      ctx.type = 'image/svg+xml';
      // Forges' image proxies cache what they can: a badge says the state of now.
      ctx.set('Cache-Control', 'no-cache, max-age=0');
      ctx.body = badgeSvg(pipeline, state);
    };
    if (repo.publicBadges) return answer();
    return read(ctx, answer);
  });
  return router;
}
