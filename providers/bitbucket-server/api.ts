import { withParam, type NextPage } from '../forge-api/pages.ts';
import { apiRoot, ownerAndName, type ForgeApi } from '../forge-api/request.ts';
import { at, num } from '../read-json.ts';
import type { RepoAccess } from '../types.ts';

/** The REST API of one repository: `repoUrl` is {apiUrl}/rest/api/latest/projects/{key}/repos/{slug}. */
export function bitbucketServerRepoApi(repo: RepoAccess, accessHint: string, secrets: string[] = []): { api: ForgeApi; repoUrl: string } {
  const forge = 'Bitbucket Data Center';
  const { root, origin } = apiRoot(forge, repo.apiUrl, repo.name);
  const { owner, slug } = ownerAndName(forge, repo.name);
  const headers: Record<string, string> = {};
  // HTTP access tokens, as for statuses (bitbucket-common.ts).
  if (repo.token) headers.authorization = `Bearer ${repo.token}`;
  const api: ForgeApi = { forge, origin, headers, secrets: [...(repo.token ? [repo.token] : []), ...secrets], accessHint };
  return { api, repoUrl: `${root}/rest/api/latest/projects/${owner}/repos/${slug}` };
}

// Data Center caps `limit` itself (page.max.limit); asking for a sensible size saves round trips.
export const DC_PAGE_SIZE = 100;

/** Data Center's paged answers: { values, isLastPage, nextPageStart }; the next page starts where it says. */
export function nextDataCenterPage(): NextPage {
  return (answer, url) => {
    const start = num(answer.body, 'nextPageStart');
    return at(answer.body, 'isLastPage') === false && start !== null ? withParam(url, 'start', start) : null;
  };
}
