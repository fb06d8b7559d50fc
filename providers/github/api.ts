import { linkNext, onOrigin, type NextPage } from '../forge-api/pages.ts';
import { apiRoot, ownerAndName, type ForgeApi } from '../forge-api/request.ts';
import type { RepoAccess } from '../types.ts';

/**
 * GitHub answers its rate limits with 429, or with 403 and either
 * x-ratelimit-remaining: 0 (primary) or retry-after / a message naming the
 * secondary limit. Any other 403 (no admin rights, SSO not authorized) is permanent.
 */
function rateLimited(status: number, headers: Headers, message: string): boolean {
  return status === 403 && (headers.get('x-ratelimit-remaining') === '0' || headers.has('retry-after') || /rate limit/i.test(message));
}

/** The REST API of one repository: `repoUrl` is {apiUrl}/repos/{owner}/{repo}. */
export function gitHubRepoApi(repo: RepoAccess, accessHint: string, secrets: string[] = []): { api: ForgeApi; repoUrl: string } {
  const { root, origin } = apiRoot('GitHub', repo.apiUrl, repo.name);
  const { owner, slug } = ownerAndName('GitHub', repo.name);
  const headers: Record<string, string> = { accept: 'application/vnd.github+json' };
  if (repo.token) headers.authorization = `Bearer ${repo.token}`;
  const api: ForgeApi = { forge: 'GitHub', origin, headers, secrets: [...(repo.token ? [repo.token] : []), ...secrets], accessHint, rateLimited };
  return { api, repoUrl: `${root}/repos/${owner}/${slug}` };
}

/** GitHub pages through the Link header, by page number or (deliveries) by cursor alike. */
export function nextByLink(api: ForgeApi): NextPage {
  return (answer, url) => {
    const link = linkNext(answer.headers.get('link'));
    return link ? onOrigin(api, link, url) : null;
  };
}
