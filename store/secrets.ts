import type { Queryable } from './db.ts';
import type { SecretBox } from './secret-box.ts';

/** What a secret's ciphertext is bound to: its row. A value moved to another repository, environment or name will not open. */
const boundTo = (repoId: string, environment: string, name: string) => JSON.stringify(['secret', repoId, environment, name]);

export async function setSecret(db: Queryable, box: SecretBox, repoId: string, environment: string, name: string, value: string): Promise<void> {
  await db.query(
    `INSERT INTO secrets (repo_id, environment, name, value) VALUES ($1, $2, $3, $4)
     ON CONFLICT (repo_id, environment, name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
    [repoId, environment, name, box.seal(value, boundTo(repoId, environment, name))]);
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
  for (const r of rows) {
    try {
      values[r.name] = box.open(r.value, boundTo(repoId, r.environment, r.name));
    } catch {
      throw new Error(`secret ${r.name} does not open: it was sealed for another place (moved in the database?) or with another key; set it again`);
    }
  }
  return values;
}

/**
 * Seals again, bound to their rows, the values an earlier version sealed
 * unbound (v1). Run at start, before any is read: after it, a v1 value in
 * the table is one moved there, and does not open.
 */
export async function bindUnboundSecrets(db: Queryable, box: SecretBox): Promise<number> {
  const { rows } = await db.query<{ repo_id: string; environment: string; name: string; value: string }>(
    "SELECT repo_id, environment, name, value FROM secrets WHERE value LIKE 'v1:%'");
  for (const r of rows) {
    await db.query("UPDATE secrets SET value = $4 WHERE repo_id = $1 AND environment = $2 AND name = $3 AND value LIKE 'v1:%'",
      [r.repo_id, r.environment, r.name, box.seal(box.open(r.value), boundTo(r.repo_id, r.environment, r.name))]);
  }
  return rows.length;
}
