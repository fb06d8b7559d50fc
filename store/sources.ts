import type { Queryable } from './db.ts';
import type { SecretBox } from './secret-box.ts';

export interface Source {
  id: string;
  repoId: string;
  repo: string;
  name: string;
  auth: 'hmac' | 'standard-webhooks' | 'bearer';
  signatureHeader: string | null;
  typeFrom: string | null;
  idFrom: string | null;
  hookId: string;
  allowCidrs: string[] | null;
}

const COLUMNS = `s.id, s.repo_id AS "repoId", r.name AS repo, s.name, s.auth, s.signature_header AS "signatureHeader",
  s.type_from AS "typeFrom", s.id_from AS "idFrom", s.hook_id AS "hookId", s.allow_cidrs AS "allowCidrs"`;

export async function insertSource(db: Queryable, box: SecretBox, s: Omit<Source, 'repo'> & { secret: string }): Promise<void> {
  await db.query(
    `INSERT INTO sources (id, repo_id, name, auth, signature_header, type_from, id_from, hook_id, allow_cidrs)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [s.id, s.repoId, s.name, s.auth, s.signatureHeader, s.typeFrom, s.idFrom, s.hookId, s.allowCidrs]);
  await db.query('INSERT INTO source_secrets (source_id, secret) VALUES ($1, $2)', [s.id, box.seal(s.secret)]);
}

export async function findSourceByHook(db: Queryable, hookId: string): Promise<Source | null> {
  const { rows } = await db.query<Source>(`SELECT ${COLUMNS} FROM sources s JOIN repos r ON r.id = s.repo_id WHERE s.hook_id = $1`, [hookId]);
  return rows[0] ?? null;
}

export async function findSource(db: Queryable, repoId: string, name: string): Promise<Source | null> {
  const { rows } = await db.query<Source>(`SELECT ${COLUMNS} FROM sources s JOIN repos r ON r.id = s.repo_id WHERE s.repo_id = $1 AND s.name = $2`, [repoId, name]);
  return rows[0] ?? null;
}

export async function listSources(db: Queryable, repoId: string | null): Promise<Source[]> {
  const { rows } = await db.query<Source>(`SELECT ${COLUMNS} FROM sources s JOIN repos r ON r.id = s.repo_id WHERE ($1::text IS NULL OR s.repo_id = $1) ORDER BY r.name, s.name`, [repoId]);
  return rows;
}

export async function removeSource(db: Queryable, id: string): Promise<void> {
  await db.query('DELETE FROM sources WHERE id = $1', [id]);
}

export async function activeSourceSecrets(db: Queryable, box: SecretBox, sourceId: string): Promise<string[]> {
  const { rows } = await db.query<{ secret: string }>('SELECT secret FROM source_secrets WHERE source_id = $1 AND retired_at IS NULL', [sourceId]);
  return rows.map((r) => box.open(r.secret));
}

export async function addSourceSecret(db: Queryable, box: SecretBox, sourceId: string, secret: string): Promise<void> {
  await db.query('INSERT INTO source_secrets (source_id, secret) VALUES ($1, $2)', [sourceId, box.seal(secret)]);
}

export async function retireOlderSourceSecrets(db: Queryable, sourceId: string): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE source_secrets SET retired_at = now() WHERE source_id = $1 AND retired_at IS NULL
       AND id <> (SELECT max(id) FROM source_secrets WHERE source_id = $1 AND retired_at IS NULL)`, [sourceId]);
  return rowCount ?? 0;
}
