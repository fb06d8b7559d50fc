import { remoteBranchHead, remoteDefaultBranch } from '../git/index.ts';
import { gitRepoView, type RepoView } from '../pipelines/index.ts';
import { providerFor, type ForgeEvent } from '../providers/index.ts';
import { repos, type Repo } from '../store/index.ts';
import type { SchedulerDeps } from './deps.ts';
import { fetchCommit, mirrorPath } from './mirrors.ts';

/** The repository as planning sees it: its mirror, fetching from the registered clone URL on demand. */
export async function repoView(deps: SchedulerDeps, repo: Repo, event: ForgeEvent): Promise<RepoView> {
  // Read only if the forge is asked: most plans never do, and this is on the path to the first step.
  let auth: Promise<string[]> | undefined;
  const credentials = () => (auth ??= repos.repoToken(deps.pool, deps.box, repo.id)
    .then((token) => providerFor(repo.forge)?.credentials.gitAuthConfig({ name: repo.name, apiUrl: repo.apiUrl, token }) ?? []));
  return gitRepoView(mirrorPath(deps, repo.id), {
    ensureCommit: (sha) => fetchCommit(deps, repo, sha, event),
    async defaultBranchHead() {
      return (await remoteDefaultBranch(repo.cloneUrl, await credentials()).catch(() => null))?.sha ?? null;
    },
    branchHead: async (branch) => remoteBranchHead(repo.cloneUrl, await credentials(), branch).catch(() => null),
  });
}
