import path from 'node:path';
import { ensureCommit, hasFetched } from '../git/index.ts';
import { providerFor, type ForgeEvent } from '../providers/index.ts';
import { repos, type Repo } from '../store/index.ts';
import type { SchedulerDeps } from './deps.ts';

export function mirrorPath(deps: Pick<SchedulerDeps, 'dataDir'>, repoId: string): string {
  return path.join(deps.dataDir, 'mirrors', `${repoId}.git`);
}

/**
 * Fetches a commit into the repository's mirror and answers its full id.
 * Only the registered clone URL is fetched from with credentials; a pull
 * request's head comes through the forge's pull request ref, or (a Bitbucket
 * Cloud fork) from the fork on the same host, without credentials.
 */
export async function fetchCommit(deps: SchedulerDeps, repo: Repo, sha: string, event?: ForgeEvent): Promise<string> {
  const mirror = mirrorPath(deps, repo.id);
  // Fetched already (by the prefetch, planning, an earlier stage): no credentials to read.
  if (await hasFetched(mirror, sha)) return sha;
  const provider = providerFor(repo.forge);
  const token = await repos.repoToken(deps.pool, deps.box, repo.id);
  const authConfig = provider?.credentials.gitAuthConfig({ name: repo.name, apiUrl: repo.apiUrl, token }) ?? [];
  const pr = event?.pullRequest;
  const prRef = pr && provider?.credentials.pullRequestRef(pr.number);
  try {
    return await ensureCommit(mirror, { cloneUrl: repo.cloneUrl, authConfig, refs: prRef ? [prRef] : [] }, sha);
  } catch (err) {
    if (!pr?.fromFork || prRef || !pr.headRepo) throw err;
    const forkUrl = `${new URL(repo.cloneUrl).origin}/${pr.headRepo}.git`;
    return ensureCommit(mirror, { cloneUrl: forkUrl }, sha);
  }
}
