import path from 'node:path';
import { ensureCommit } from '../git/index.ts';
import { providerFor } from '../providers/index.ts';
import { repos, type Repo } from '../store/index.ts';
import type { SchedulerDeps } from './deps.ts';

export function mirrorPath(deps: SchedulerDeps, repoId: string): string {
  return path.join(deps.dataDir, 'mirrors', `${repoId}.git`);
}

/** Fetches `sha` into the repository's mirror from its registered clone URL, with its credentials. */
export async function fetchCommit(deps: SchedulerDeps, repo: Repo, sha: string): Promise<string> {
  const mirror = mirrorPath(deps, repo.id);
  const token = await repos.repoToken(deps.pool, deps.box, repo.id);
  const authConfig = providerFor(repo.forge)?.gitAuthConfig({ name: repo.name, apiUrl: repo.apiUrl, token }) ?? [];
  await ensureCommit(mirror, { cloneUrl: repo.cloneUrl, authConfig }, sha);
  return mirror;
}
