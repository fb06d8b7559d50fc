import { createHash, randomBytes } from 'node:crypto';
import type { Queryable } from './db.ts';

const hash = (id: string) => createHash('sha256').update(id).digest('hex');

/** Opens a session for the token whose hash is given; answers the id for the cookie (kept only as a hash). */
export async function openSession(db: Queryable, tokenHash: string, ttlSeconds: number): Promise<string> {
  const id = randomBytes(32).toString('base64url');
  await db.query("DELETE FROM sessions WHERE expires_at < now()");
  await db.query("INSERT INTO sessions (id_hash, token_hash, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))", [hash(id), tokenHash, ttlSeconds]);
  return id;
}

/** The hash of the token a live session was opened with. */
export async function sessionToken(db: Queryable, id: string): Promise<string | null> {
  const { rows } = await db.query<{ token_hash: string }>('SELECT token_hash FROM sessions WHERE id_hash = $1 AND expires_at > now()', [hash(id)]);
  return rows[0]?.token_hash ?? null;
}

export async function closeSession(db: Queryable, id: string): Promise<void> {
  await db.query('DELETE FROM sessions WHERE id_hash = $1', [hash(id)]);
}
