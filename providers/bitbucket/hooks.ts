import type { EnsuredHook, HookSpec } from '../forge-api/types.ts';
import { idOf } from '../forge-api/ids.ts';
import { itemsOf, pages } from '../forge-api/pages.ts';
import { request } from '../forge-api/request.ts';
import { at, str } from '../read-json.ts';
import type { RepoAccess } from '../types.ts';
import { bitbucketRepoApi, nextBitbucketPage } from './api.ts';

// What Forgeline parses from Bitbucket Cloud (docs/pipelines.md, "event"); tags arrive in repo:push.
const EVENTS = ['repo:push', 'pullrequest:created', 'pullrequest:updated', 'pullrequest:fulfilled', 'pullrequest:rejected'];
// Bitbucket wants the webhook scope plus the scope of every event subscribed to.
const HINT = 'managing webhooks needs admin rights on the repository and a token with the webhook, repository and pull request scopes';

/**
 * Creates the repository webhook, or updates the one with the same URL
 * (every page of the list is searched) so that registering twice never
 * leaves two hooks delivering the same events. The secret makes Bitbucket
 * sign each delivery in X-Hub-Signature (docs/api.md, "Hooks").
 */
export async function ensureBitbucketHook(repo: RepoAccess, hook: HookSpec): Promise<EnsuredHook> {
  const { api, repoUrl } = bitbucketRepoApi(repo, HINT, [hook.secret]);
  const body = { description: 'Forgeline', url: hook.url, active: true, events: EVENTS, secret: hook.secret };
  for await (const page of pages(api, new URL(`${repoUrl}/hooks`), nextBitbucketPage(api))) {
    const existing = itemsOf(page.body).find((h) => str(h, 'url') === hook.url);
    if (!existing) continue;
    // The id is a {uuid}, braces included, and goes into the path encoded.
    const id = idOf(api, existing.uuid, 'webhook');
    await request(api, 'PUT', new URL(`${repoUrl}/hooks/${encodeURIComponent(id)}`), { ...body, description: str(existing, 'description') || body.description });
    return { id, created: false };
  }
  const created = await request(api, 'POST', new URL(`${repoUrl}/hooks`), body);
  return { id: idOf(api, at(created.body, 'uuid'), 'webhook'), created: true };
}
