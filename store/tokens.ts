import { createHash } from 'node:crypto';
import type { Queryable } from './db.ts';

export type Role = 'read' | 'write' | 'approve' | 'admin';
export const ROLES: Role[] = ['read', 'write', 'approve', 'admin'];

const hash = (secret: string) => createHash('sha256').update(secret).digest('hex');

export async function addToken(db: Queryable, name: string, role: Role, secret: string): Promise<void> {
  await db.query('INSERT INTO tokens (name, role, hash) VALUES ($1, $2, $3)', [name, role, hash(secret)]);
}

/** The token a secret belongs to, unless revoked. A hash lookup: nothing to compare in variable time. */
export async function findToken(db: Queryable, secret: string): Promise<{ name: string; role: Role } | null> {
  const { rows } = await db.query<{ name: string; role: Role }>('SELECT name, role FROM tokens WHERE hash = $1 AND revoked_at IS NULL', [hash(secret)]);
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
