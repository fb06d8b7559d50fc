import { remoteBranchHead, remoteDefaultBranch } from '../git/index.ts';
import type { RepoView } from '../pipelines/index.ts';
import { providerFor, type ForgeEvent } from '../providers/index.ts';
import { repos, type Repo } from '../store/index.ts';
import type { SchedulerDeps } from './deps.ts';
import { fetchCommit, mirrorPath } from './mirrors.ts';

/** The repository as planning sees it: its mirror, fetching from the registered clone URL on demand. */
export async function repoView(deps: SchedulerDeps, repo: Repo, event: ForgeEvent): Promise<RepoView> {
  const token = await repos.repoToken(deps.pool, deps.box, repo.id);
  const auth = providerFor(repo.forge)?.gitAuthConfig({ name: repo.name, apiUrl: repo.apiUrl, token }) ?? [];
  return {
    gitDir: mirrorPath(deps, repo.id),
    ensureCommit: (sha) => fetchCommit(deps, repo, sha, event),
    async defaultBranchHead() {
      return (await remoteDefaultBranch(repo.cloneUrl, auth).catch(() => null))?.sha ?? null;
    },
    branchHead: (branch) => remoteBranchHead(repo.cloneUrl, auth, branch).catch(() => null),
  };
}
