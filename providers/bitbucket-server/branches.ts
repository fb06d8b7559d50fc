import type { BranchHead } from '../forge-api/types.ts';
import { itemsOf, pages } from '../forge-api/pages.ts';
import { str } from '../read-json.ts';
import type { RepoAccess } from '../types.ts';
import { DC_PAGE_SIZE, bitbucketServerRepoApi, nextDataCenterPage } from './api.ts';

/** Every branch with the commit at its head (all pages), for the check (docs/forges.md, "Missed deliveries") of heads that moved unseen. */
export async function bitbucketServerBranchHeads(repo: RepoAccess): Promise<BranchHead[]> {
  const { api, repoUrl } = bitbucketServerRepoApi(repo, 'listing branches needs the repository read permission for the token');
  const heads: BranchHead[] = [];
  // Alphabetical order: the default (most recently modified first) shifts under a push between two pages.
  const first = new URL(`${repoUrl}/branches?start=0&limit=${DC_PAGE_SIZE}&orderBy=ALPHABETICAL&details=false`);
  for await (const page of pages(api, first, nextDataCenterPage())) {
    for (const item of itemsOf(page.body)) {
      const id = str(item, 'id');
      const branch = str(item, 'displayId') ?? (id?.startsWith('refs/heads/') ? id.slice('refs/heads/'.length) : null);
      const sha = str(item, 'latestCommit');
      if (branch && sha) heads.push({ branch, sha });
    }
  }
  return heads;
}
