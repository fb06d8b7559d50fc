import type { BranchHead } from '../forge-api/types.ts';
import { itemsOf, pages } from '../forge-api/pages.ts';
import { str } from '../read-json.ts';
import type { RepoAccess } from '../types.ts';
import { gitLabProjectApi, nextGitLabPage } from './api.ts';

/** Every branch with the commit at its head (all pages), for the check (docs/forges.md, "Missed deliveries") of heads that moved unseen. */
export async function gitLabBranchHeads(repo: RepoAccess): Promise<BranchHead[]> {
  const { api, projectUrl } = gitLabProjectApi(repo, 'listing branches needs read access to the repository (read_api scope)');
  const heads: BranchHead[] = [];
  for await (const page of pages(api, new URL(`${projectUrl}/repository/branches?per_page=100`), nextGitLabPage(api))) {
    for (const item of itemsOf(page.body)) {
      const branch = str(item, 'name');
      const sha = str(item, 'commit.id');
      if (branch && sha) heads.push({ branch, sha });
    }
  }
  return heads;
}
