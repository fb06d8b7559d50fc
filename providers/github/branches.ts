import type { BranchHead } from '../forge-api/types.ts';
import { itemsOf, pages } from '../forge-api/pages.ts';
import { str } from '../read-json.ts';
import type { RepoAccess } from '../types.ts';
import { gitHubRepoApi, nextByLink } from './api.ts';

/** Every branch with the commit at its head (all pages), for the check (docs/forges.md, "Missed deliveries") of heads that moved unseen. */
export async function gitHubBranchHeads(repo: RepoAccess): Promise<BranchHead[]> {
  const { api, repoUrl } = gitHubRepoApi(repo, 'listing branches needs read access to the repository contents');
  const heads: BranchHead[] = [];
  for await (const page of pages(api, new URL(`${repoUrl}/branches?per_page=100`), nextByLink(api))) {
    for (const item of itemsOf(page.body)) {
      const branch = str(item, 'name');
      const sha = str(item, 'commit.sha');
      if (branch && sha) heads.push({ branch, sha });
    }
  }
  return heads;
}
