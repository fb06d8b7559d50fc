import { onOrigin, type NextPage } from '../forge-api/pages.ts';
import { apiRoot, ownerAndName, type ForgeApi } from '../forge-api/request.ts';
import { str } from '../read-json.ts';
import type { RepoAccess } from '../types.ts';

/** The REST API of one repository: `repoUrl` is {apiUrl}/2.0/repositories/{workspace}/{slug}. */
export function bitbucketRepoApi(repo: RepoAccess, accessHint: string, secrets: string[] = []): { api: ForgeApi; repoUrl: string } {
  const { root, origin } = apiRoot('Bitbucket', repo.apiUrl, repo.name);
  const { owner, slug } = ownerAndName('Bitbucket', repo.name);
  const headers: Record<string, string> = {};
  // Repository, project and workspace access tokens, as for statuses (bitbucket-common.ts).
  if (repo.token) headers.authorization = `Bearer ${repo.token}`;
  const api: ForgeApi = { forge: 'Bitbucket', origin, headers, secrets: [...(repo.token ? [repo.token] : []), ...secrets], accessHint };
  return { api, repoUrl: `${root}/2.0/repositories/${owner}/${slug}` };
}

/** Bitbucket Cloud pages carry the full URL of the next one in the body's `next`, absent on the last. */
export function nextBitbucketPage(api: ForgeApi): NextPage {
  return (answer, url) => {
    const next = str(answer.body, 'next');
    return next ? onOrigin(api, next, url) : null;
  };
}
