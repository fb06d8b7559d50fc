import type { BranchHead } from '../forge-api/types.ts';
import { itemsOf, pages } from '../forge-api/pages.ts';
import { str } from '../read-json.ts';
import type { RepoAccess } from '../types.ts';
import { GITEA_PAGE_SIZE, giteaRepoApi, nextGiteaPage } from './api.ts';

/** Every branch with the commit at its head (all pages), for the check (docs/forges.md, "Missed deliveries") of heads that moved unseen. */
export async function giteaBranchHeads(repo: RepoAccess): Promise<BranchHead[]> {
  const { api, repoUrl } = giteaRepoApi(repo, 'listing branches needs read access to the repository');
  const heads: BranchHead[] = [];
  const first = new URL(`${repoUrl}/branches?page=1&limit=${GITEA_PAGE_SIZE}`);
  for await (const page of pages(api, first, nextGiteaPage())) {
    for (const item of itemsOf(page.body)) {
      const branch = str(item, 'name');
      const sha = str(item, 'commit.id');
      if (branch && sha) heads.push({ branch, sha });
    }
  }
  return heads;
}
