import type { EnsuredHook, HookSpec } from '../forge-api/types.ts';
import { idOf } from '../forge-api/ids.ts';
import { itemsOf, pages } from '../forge-api/pages.ts';
import { request, type ForgeApi } from '../forge-api/request.ts';
import { at, str } from '../read-json.ts';
import { signingKey } from '../signature.ts';
import { PermanentReportError, type RepoAccess } from '../types.ts';
import { gitLabProjectApi, nextGitLabPage } from './api.ts';

const HINT = 'managing webhooks needs the Maintainer role on the project and a token with the api scope';

/**
 * What Forgeline parses from GitLab (docs/pipelines.md, "event"), and how the secret travels:
 * a `whsec_` secret is a signing key (docs/api.md, "Hooks"), sent as `signing_token` so
 * that GitLab signs each delivery with it. As a plain `token` it would travel
 * in clear in X-Gitlab-Token on every delivery, and verifyGitLab never accepts
 * a signing key that way. Other hook settings (SSL verification, extra events)
 * are the owner's and left as they are.
 */
function hookBody(hook: HookSpec): Record<string, unknown> {
  const body: Record<string, unknown> = { url: hook.url, push_events: true, tag_push_events: true, merge_requests_events: true };
  if (signingKey(hook.secret)) body.signing_token = hook.secret;
  else body.token = hook.secret;
  return body;
}

/**
 * GitLab ignores a `signing_token` it does not know (versions before it,
 * or with the webhook_signing_token feature flag off): the hook would then
 * deliver without any proof, and every delivery would be refused.
 */
function checkSigned(api: ForgeApi, hook: HookSpec, answer: unknown): void {
  if (!signingKey(hook.secret) || at(answer, 'signing_token_present') === true) return;
  throw new PermanentReportError(
    `${api.forge} did not take the signing token (a GitLab without webhook signing tokens, or with the webhook_signing_token feature flag off): register a secret that does not start with whsec_`,
  );
}

/**
 * Creates the project webhook, or updates the one with the same URL (every
 * page of the list is searched) so that registering twice never leaves two
 * hooks delivering the same events.
 */
export async function ensureGitLabHook(repo: RepoAccess, hook: HookSpec): Promise<EnsuredHook> {
  const { api, projectUrl } = gitLabProjectApi(repo, HINT, [hook.secret]);
  for await (const page of pages(api, new URL(`${projectUrl}/hooks?per_page=100`), nextGitLabPage(api))) {
    const existing = itemsOf(page.body).find((h) => str(h, 'url') === hook.url);
    if (!existing) continue;
    const id = idOf(api, existing.id, 'webhook');
    const updated = await request(api, 'PUT', new URL(`${projectUrl}/hooks/${encodeURIComponent(id)}`), hookBody(hook));
    checkSigned(api, hook, updated.body);
    return { id, created: false };
  }
  const created = await request(api, 'POST', new URL(`${projectUrl}/hooks`), hookBody(hook));
  const id = idOf(api, at(created.body, 'id'), 'webhook');
  checkSigned(api, hook, created.body);
  return { id, created: true };
}
