import { itemsOf, linkNext, onOrigin, withParam, type NextPage } from '../forge-api/pages.ts';
import { apiRoot, type ForgeApi } from '../forge-api/request.ts';
import { PermanentReportError, type RepoAccess } from '../types.ts';

/** The REST API of one project: `projectUrl` is {apiUrl}/api/v4/projects/{URL-encoded full path}. */
export function gitLabProjectApi(repo: RepoAccess, accessHint: string, secrets: string[] = []): { api: ForgeApi; projectUrl: string } {
  const { root, origin } = apiRoot('GitLab', repo.apiUrl, repo.name);
  // A project always sits in a namespace, possibly nested: group/subgroup/project.
  if (!/^[^/]+(\/[^/]+)+$/.test(repo.name)) throw new PermanentReportError(`GitLab: repository name '${repo.name}' is not namespace/project`);
  const headers: Record<string, string> = {};
  // GitLab's header for personal, project and group access tokens.
  if (repo.token) headers['private-token'] = repo.token;
  const api: ForgeApi = { forge: 'GitLab', origin, headers, secrets: [...(repo.token ? [repo.token] : []), ...secrets], accessHint };
  return { api, projectUrl: `${root}/api/v4/projects/${encodeURIComponent(repo.name)}` };
}

/**
 * GitLab's offset pagination: the Link header's rel="next" when there is one,
 * else x-next-page (empty on the last page). An empty page ends it too: some
 * endpoints announce a next page that holds nothing.
 */
export function nextGitLabPage(api: ForgeApi): NextPage {
  return (answer, url) => {
    if (itemsOf(answer.body).length === 0) return null;
    const link = linkNext(answer.headers.get('link'));
    if (link) return onOrigin(api, link, url);
    const page = answer.headers.get('x-next-page');
    return page && /^\d+$/.test(page) ? withParam(url, 'page', page) : null;
  };
}
