import { createHash } from 'node:crypto';
import type { Queryable } from './db.ts';

export type Role = 'read' | 'write' | 'approve' | 'admin';
export const ROLES: Role[] = ['read', 'write', 'approve', 'admin'];

/** How a token is kept: its SHA-256, hex. */
export const tokenHash = (secret: string) => createHash('sha256').update(secret).digest('hex');
const hash = tokenHash;

export async function addToken(db: Queryable, name: string, role: Role, secret: string): Promise<void> {
  await db.query('INSERT INTO tokens (name, role, hash) VALUES ($1, $2, $3)', [name, role, hash(secret)]);
}

/** The token a secret belongs to, unless revoked. A hash lookup: nothing to compare in variable time. */
export async function findToken(db: Queryable, secret: string): Promise<{ name: string; role: Role } | null> {
  const { rows } = await db.query<{ name: string; role: Role }>('SELECT name, role FROM tokens WHERE hash = $1 AND revoked_at IS NULL', [hash(secret)]);
  return rows[0] ?? null;
}

/** The token a hash belongs to, unless revoked (a UI session keeps the hash of the token it was opened with). */
export async function findTokenByHash(db: Queryable, tokenHash: string): Promise<{ name: string; role: Role } | null> {
  const { rows } = await db.query<{ name: string; role: Role }>('SELECT name, role FROM tokens WHERE hash = $1 AND revoked_at IS NULL', [tokenHash]);
  return rows[0] ?? null;
}

export async function listTokens(db: Queryable): Promise<Array<{ name: string; role: Role; createdAt: Date; revokedAt: Date | null }>> {
  const { rows } = await db.query('SELECT name, role, created_at AS "createdAt", revoked_at AS "revokedAt" FROM tokens ORDER BY name');
  return rows;
}

export async function revokeToken(db: Queryable, name: string): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE tokens SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL', [name]);
  return rowCount === 1;
}
