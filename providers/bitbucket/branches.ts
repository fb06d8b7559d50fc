import type { BranchHead } from '../forge-api/types.ts';
import { itemsOf, pages } from '../forge-api/pages.ts';
import { str } from '../read-json.ts';
import type { RepoAccess } from '../types.ts';
import { bitbucketRepoApi, nextBitbucketPage } from './api.ts';

/** Every branch with the commit at its head (all pages), for the check (docs/forges.md, "Missed deliveries") of heads that moved unseen. */
export async function bitbucketBranchHeads(repo: RepoAccess): Promise<BranchHead[]> {
  const { api, repoUrl } = bitbucketRepoApi(repo, 'listing branches needs a token with the repository scope');
  const heads: BranchHead[] = [];
  for await (const page of pages(api, new URL(`${repoUrl}/refs/branches?pagelen=100`), nextBitbucketPage(api))) {
    for (const item of itemsOf(page.body)) {
      const branch = str(item, 'name');
      const sha = str(item, 'target.hash');
      if (branch && sha) heads.push({ branch, sha });
    }
  }
  return heads;
}
