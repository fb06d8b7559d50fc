import { itemsOf, linkNext, withParam, type NextPage } from '../forge-api/pages.ts';
import { apiRoot, ownerAndName, type ForgeApi } from '../forge-api/request.ts';
import type { RepoAccess } from '../types.ts';

/** The REST API of one repository: `repoUrl` is {apiUrl}/api/v1/repos/{owner}/{repo}. */
export function giteaRepoApi(repo: RepoAccess, accessHint: string, secrets: string[] = []): { api: ForgeApi; repoUrl: string } {
  const { root, origin } = apiRoot('Gitea', repo.apiUrl, repo.name);
  const { owner, slug } = ownerAndName('Gitea', repo.name);
  const headers: Record<string, string> = {};
  if (repo.token) headers.authorization = `token ${repo.token}`;
  const api: ForgeApi = { forge: 'Gitea', origin, headers, secrets: [...(repo.token ? [repo.token] : []), ...secrets], accessHint };
  return { api, repoUrl: `${root}/api/v1/repos/${owner}/${slug}` };
}

// Gitea caps `limit` at [api] MAX_RESPONSE_ITEMS (50 unless configured): asking for more only hides the cap.
export const GITEA_PAGE_SIZE = 50;

/**
 * Gitea's page/limit pagination. The branch list says there is more with a
 * Link header, but the hook list sends only X-Total-Count, and a short page
 * proves nothing (the server may cap `limit` below what was asked). So: a
 * rel="next", or fewer items read than X-Total-Count, means one page more;
 * old versions that send neither answer everything at once. The next URL is
 * built here rather than taken from the Link header, which Gitea writes from
 * its ROOT_URL, not from the address the request went to.
 */
export function nextGiteaPage(): NextPage {
  let read = 0;
  return (answer, url) => {
    const count = itemsOf(answer.body).length;
    read += count;
    if (count === 0) return null;
    const next = withParam(url, 'page', Number(url.searchParams.get('page') ?? '1') + 1);
    if (linkNext(answer.headers.get('link'))) return next;
    const total = Number(answer.headers.get('x-total-count') ?? Number.NaN);
    return Number.isFinite(total) && read < total ? next : null;
  };
}
