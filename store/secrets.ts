import type { Queryable } from './db.ts';
import type { SecretBox } from './secret-box.ts';

export async function setSecret(db: Queryable, box: SecretBox, repoId: string, environment: string, name: string, value: string): Promise<void> {
  await db.query(
    `INSERT INTO secrets (repo_id, environment, name, value) VALUES ($1, $2, $3, $4)
     ON CONFLICT (repo_id, environment, name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
    [repoId, environment, name, box.seal(value)]);
}

export async function removeSecret(db: Queryable, repoId: string, environment: string, name: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM secrets WHERE repo_id = $1 AND environment = $2 AND name = $3', [repoId, environment, name]);
  return rowCount === 1;
}

/** Names only: values are never shown again. */
export async function listSecrets(db: Queryable, repoId: string): Promise<Array<{ environment: string | null; name: string; updatedAt: Date }>> {
  const { rows } = await db.query(
    `SELECT NULLIF(environment, '') AS environment, name, updated_at AS "updatedAt" FROM secrets WHERE repo_id = $1 ORDER BY environment, name`, [repoId]);
  return rows;
}

/** The values of the named secrets; an environment's own secret wins over the repository's. */
export async function secretValues(db: Queryable, box: SecretBox, repoId: string, environment: string | null, names: string[]): Promise<Record<string, string>> {
  if (!names.length) return {};
  const { rows } = await db.query<{ environment: string; name: string; value: string }>(
    `SELECT environment, name, value FROM secrets WHERE repo_id = $1 AND name = ANY($2::text[]) AND environment IN ('', $3)
     ORDER BY environment`, [repoId, names, environment ?? '']);
  const values: Record<string, string> = {};
  for (const r of rows) values[r.name] = box.open(r.value);
  return values;
}
