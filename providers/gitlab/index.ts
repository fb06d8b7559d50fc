import { ensureGitLabHook } from './hooks.ts';
import { gitLabBranchHeads } from './branches.ts';
import { header } from '../http-headers.ts';
import { jsonPayload } from '../payload.ts';
import type { Provider } from '../types.ts';
import { commitUnder } from '../web-url.ts';
import { parseGitLab } from './parse.ts';
import { postGitLabStatus, STATES } from './status.ts';
import { verifyGitLab } from './verify.ts';

export const gitlab: Provider = {
  name: 'gitlab',
  verify: {
    // Idempotency-Key stays the same when GitLab retries a delivery; X-Gitlab-Event-UUID is all older versions send.
    deliveryId: (headers) =>
      header(headers, 'idempotency-key') || header(headers, 'webhook-id') || header(headers, 'x-gitlab-event-uuid') || null,
    proves: verifyGitLab,
  },
  parse: {
    eventHeader: 'x-gitlab-event',
    payloadOf: jsonPayload,
    events: (headers, payload) => parseGitLab(header(headers, 'x-gitlab-event') ?? '', payload),
  },
  statuses: {
    post: postGitLabStatus,
    state: (state) => STATES[state],
    // GitLab refuses a state equal to the current one.
    acceptsSameState: false,
  },
  hooks: {
    ensure: ensureGitLabHook,
  },
  deliveries: {
    branchHeads: gitLabBranchHeads,
  },
  credentials: {
    defaultApiUrl: 'https://gitlab.com',
    defaultCloneUrl: (apiUrl, name) => `${apiUrl.replace(/\/+$/, '')}/${name}.git`,
    // GitLab takes an access token as the password of the user `oauth2`.
    gitAuthConfig: (repo) =>
      repo.token ? [`http.extraHeader=Authorization: Basic ${Buffer.from(`oauth2:${repo.token}`).toString('base64')}`] : [],
    pullRequestRef: (number) => `refs/merge-requests/${number}/head`,
    commitUrl: commitUnder('-/commit'),
  },
};
