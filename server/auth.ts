import { createHash } from 'node:crypto';
import { equalSecrets } from '../providers/signature.ts';
import type { Context, Next } from 'koa';
import { sessions, tokens, type Pool } from '../store/index.ts';

export type Role = tokens.Role;
const RANK: Record<Role, number> = { read: 0, write: 1, approve: 2, admin: 3 };

export interface ApiAuth {
  /** FORGELINE_API_TOKEN: a bootstrap admin token. */
  apiToken: string | undefined;
  /** FORGELINE_PUBLIC_READ=true: reads need no token. */
  publicRead: boolean;
}

/**
 * The UI's session: a random id in an HttpOnly, SameSite=Strict cookie
 * (Secure over HTTPS). The id stands for the token it was opened with; the
 * token itself never leaves the login form, and a revoked token ends its
 * sessions.
 */
export const SESSION_COOKIE = 'forgeline_session';
export const SESSION_SECONDS = 7 * 24 * 3600;

/** A page's CSRF token: derived from the session's secret, so a page of ours can send it and another site cannot. */
export function csrfToken(session: string): string {
  return createHash('sha256').update(`csrf:${session}`).digest('hex');
}

/** Who a UI session is: its token's name and role, while the session and the token live. */
export async function resolveSession(pool: Pool, auth: ApiAuth, session: string | undefined): Promise<{ name: string; role: Role } | null> {
  if (!session) return null;
  const hash = await sessions.sessionToken(pool, session);
  if (!hash) return null;
  if (auth.apiToken && equalSecrets(hash, tokens.tokenHash(auth.apiToken))) return { name: 'admin', role: 'admin' };
  return tokens.findTokenByHash(pool, hash);
}

/** Who a token is: the bootstrap admin, a named token, or nobody. */
export async function resolveToken(pool: Pool, auth: ApiAuth, given: string | undefined): Promise<{ name: string; role: Role } | null> {
  if (!given) return null;
  if (auth.apiToken && equalSecrets(given, auth.apiToken)) return { name: 'admin', role: 'admin' };
  return tokens.findToken(pool, given);
}

/**
 * Guards an endpoint with the role docs/api.md names: reads need `read` (or
 * nothing with FORGELINE_PUBLIC_READ), writes `write`, approvals `approve`,
 * tokens, repositories and environments `admin`. The token's name is the
 * actor recorded in the audit log.
 */
export function requireRole(pool: Pool, auth: ApiAuth, role: Role) {
  return async (ctx: Context, next: Next) => {
    const bearer = /^Bearer\s+(.+)$/i.exec(ctx.get('authorization'))?.[1]?.trim();
    const cookie = bearer ? undefined : ctx.cookies.get(SESSION_COOKIE);
    // A write with the cookie must carry the page's CSRF token: a cookie alone proves nothing about who asked.
    if (cookie && ctx.method !== 'GET' && ctx.get('x-forgeline-csrf') !== csrfToken(cookie)) {
      ctx.status = 403;
      ctx.body = { error: 'missing or wrong CSRF token' };
      return;
    }
    const actor = bearer ? await resolveToken(pool, auth, bearer) : await resolveSession(pool, auth, cookie);
    if (!actor && role === 'read' && auth.publicRead) return next();
    if (!actor) {
      ctx.status = 401;
      ctx.body = { error: 'a token is required: Authorization: Bearer <token>' };
      return;
    }
    if (RANK[actor.role] < RANK[role]) {
      ctx.status = 403;
      ctx.body = { error: `token ${actor.name} has the ${actor.role} role; this needs ${role}` };
      return;
    }
    ctx.state.actor = actor.name;
    ctx.state.role = actor.role;
    return next();
  };
}
