import type { Queryable } from './db.ts';
import type { SecretBox } from './secret-box.ts';

export interface Repo {
  id: string;
  forge: string;
  name: string;
  cloneUrl: string;
  apiUrl: string;
  hookId: string;
  forkPrs: string;
  defaultBranch: string | null;
  allowCidrs: string[] | null;
  /** Its pipelines' badges are readable without a token. */
  publicBadges: boolean;
  createdAt: Date;
}

export const COLUMNS = `id, forge, name, clone_url AS "cloneUrl", api_url AS "apiUrl", hook_id AS "hookId",
  fork_prs AS "forkPrs", default_branch AS "defaultBranch", allow_cidrs AS "allowCidrs", public_badges AS "publicBadges", created_at AS "createdAt"`;

export interface NewRepo {
  id: string;
  forge: string;
  name: string;
  cloneUrl: string;
  apiUrl: string;
  token: string | null;
  hookId: string;
  forkPrs: string;
  secret: string;
}

export async function insertRepo(db: Queryable, box: SecretBox, repo: NewRepo): Promise<void> {
  await db.query(
    `INSERT INTO repos (id, forge, name, clone_url, api_url, token, hook_id, fork_prs)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [repo.id, repo.forge, repo.name, repo.cloneUrl, repo.apiUrl, repo.token === null ? null : box.seal(repo.token), repo.hookId, repo.forkPrs],
  );
  await db.query('INSERT INTO repo_secrets (repo_id, secret) VALUES ($1, $2)', [repo.id, box.seal(repo.secret)]);
}

export async function getRepo(db: Queryable, id: string): Promise<Repo | null> {
  const { rows } = await db.query<Repo>(`SELECT ${COLUMNS} FROM repos WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

export async function findRepoByHook(db: Queryable, hookId: string): Promise<Repo | null> {
  const { rows } = await db.query<Repo>(`SELECT ${COLUMNS} FROM repos WHERE hook_id = $1`, [hookId]);
  return rows[0] ?? null;
}

export async function findRepoByName(db: Queryable, forge: string, name: string): Promise<Repo | null> {
  const { rows } = await db.query<Repo>(`SELECT ${COLUMNS} FROM repos WHERE forge = $1 AND lower(name) = lower($2)`, [forge, name]);
  return rows[0] ?? null;
}

/** A repository by id, or by full name when the name is unambiguous across forges. */
export async function findRepo(db: Queryable, idOrName: string): Promise<Repo | null> {
  const { rows } = await db.query<Repo>(
    `SELECT ${COLUMNS} FROM repos WHERE id = $1 OR lower(name) = lower($1) ORDER BY (id = $1) DESC LIMIT 2`, [idOrName]);
  if (rows[0]?.id === idOrName) return rows[0];
  return rows.length === 1 ? rows[0]! : null;
}

export async function listRepos(db: Queryable): Promise<Repo[]> {
  const { rows } = await db.query<Repo>(`SELECT ${COLUMNS} FROM repos ORDER BY name`);
  return rows;
}

export async function activeSecrets(db: Queryable, box: SecretBox, repoId: string): Promise<string[]> {
  const { rows } = await db.query<{ secret: string }>(
    'SELECT secret FROM repo_secrets WHERE repo_id = $1 AND retired_at IS NULL', [repoId]);
  return rows.map((r) => box.open(r.secret));
}

export async function repoToken(db: Queryable, box: SecretBox, repoId: string): Promise<string | null> {
  const { rows } = await db.query<{ token: string | null }>('SELECT token FROM repos WHERE id = $1', [repoId]);
  const sealed = rows[0]?.token;
  return sealed ? box.open(sealed) : null;
}

export async function setDefaultBranch(db: Queryable, repoId: string, branch: string): Promise<void> {
  await db.query('UPDATE repos SET default_branch = $2 WHERE id = $1', [repoId, branch]);
}

export async function addSecret(db: Queryable, box: SecretBox, repoId: string, secret: string): Promise<void> {
  await db.query('INSERT INTO repo_secrets (repo_id, secret) VALUES ($1, $2)', [repoId, box.seal(secret)]);
}

/** Retires every active secret but the newest; answers how many were retired. */
export async function retireOlderSecrets(db: Queryable, repoId: string): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE repo_secrets SET retired_at = now()
     WHERE repo_id = $1 AND retired_at IS NULL
       AND id <> (SELECT max(id) FROM repo_secrets WHERE repo_id = $1 AND retired_at IS NULL)`, [repoId]);
  return rowCount ?? 0;
}

export async function removeRepo(db: Queryable, repoId: string): Promise<void> {
  await db.query('DELETE FROM repos WHERE id = $1', [repoId]);
}

export async function setRemoteHook(db: Queryable, repoId: string, hookId: string): Promise<void> {
  await db.query('UPDATE repos SET remote_hook_id = $2 WHERE id = $1', [repoId, hookId]);
}

/** Repositories with an API token, for the recovery of missed deliveries. */
export async function reposWithToken(db: Queryable): Promise<Array<Repo & { remoteHookId: string | null; recoveredAt: Date | null }>> {
  const { rows } = await db.query(
    `SELECT ${COLUMNS}, remote_hook_id AS "remoteHookId", recovered_at AS "recoveredAt" FROM repos WHERE token IS NOT NULL ORDER BY id`);
  return rows;
}

export async function markRecovered(db: Queryable, repoId: string, at: Date): Promise<void> {
  await db.query('UPDATE repos SET recovered_at = $2 WHERE id = $1', [repoId, at]);
}

export async function setGitHubApp(db: Queryable, box: SecretBox, repoId: string, appId: string, privateKey: string): Promise<void> {
  await db.query('UPDATE repos SET app_id = $2, app_key = $3 WHERE id = $1', [repoId, appId, box.seal(privateKey)]);
}

/** The GitHub App a repository reports through, or null (commit statuses). */
export async function gitHubApp(db: Queryable, box: SecretBox, repoId: string): Promise<{ appId: string; privateKey: string } | null> {
  const { rows } = await db.query<{ app_id: string | null; app_key: string | null }>('SELECT app_id, app_key FROM repos WHERE id = $1', [repoId]);
  const row = rows[0];
  return row?.app_id && row.app_key ? { appId: row.app_id, privateKey: box.open(row.app_key) } : null;
}

export async function setAllowCidrs(db: Queryable, repoId: string, cidrs: string[] | null): Promise<void> {
  await db.query('UPDATE repos SET allow_cidrs = $2 WHERE id = $1', [repoId, cidrs]);
}

export async function setPublicBadges(db: Queryable, repoId: string, on: boolean): Promise<void> {
  await db.query('UPDATE repos SET public_badges = $2 WHERE id = $1', [repoId, on]);
}
