import type { Context, Next } from 'koa';
import { tokens, type Pool } from '../store/index.ts';

export type Role = tokens.Role;
const RANK: Record<Role, number> = { read: 0, write: 1, approve: 2, admin: 3 };

export interface ApiAuth {
  /** FORGELINE_API_TOKEN: a bootstrap admin token. */
  apiToken: string | undefined;
  /** FORGELINE_PUBLIC_READ=true: reads need no token. */
  publicRead: boolean;
}

/**
 * Guards an endpoint with the role SPEC.md §7 names: reads need `read` (or
 * nothing with FORGELINE_PUBLIC_READ), writes `write`, approvals `approve`,
 * tokens, repositories and environments `admin`. The token's name is the
 * actor recorded in the audit log.
 */
export function requireRole(pool: Pool, auth: ApiAuth, role: Role) {
  return async (ctx: Context, next: Next) => {
    const given = /^Bearer\s+(.+)$/i.exec(ctx.get('authorization'))?.[1]?.trim();
    let actor: { name: string; role: Role } | null = null;
    if (given && auth.apiToken && given === auth.apiToken) actor = { name: 'admin', role: 'admin' };
    else if (given) actor = await tokens.findToken(pool, given);
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
    return next();
  };
}
