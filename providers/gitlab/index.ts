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
  eventHeader: 'x-gitlab-event',
  defaultApiUrl: 'https://gitlab.com',
  // Idempotency-Key stays the same when GitLab retries a delivery; X-Gitlab-Event-UUID is all older versions send.
  deliveryId: (headers) =>
    header(headers, 'idempotency-key') || header(headers, 'webhook-id') || header(headers, 'x-gitlab-event-uuid') || null,
  verify: verifyGitLab,
  payloadOf: jsonPayload,
  parse: (headers, payload) => parseGitLab(header(headers, 'x-gitlab-event') ?? '', payload),
  postStatus: postGitLabStatus,
  // GitLab takes an access token as the password of the user `oauth2`.
  gitAuthConfig: (repo) =>
    repo.token ? [`http.extraHeader=Authorization: Basic ${Buffer.from(`oauth2:${repo.token}`).toString('base64')}`] : [],
  defaultCloneUrl: (apiUrl, name) => `${apiUrl.replace(/\/+$/, '')}/${name}.git`,
  pullRequestRef: (number) => `refs/merge-requests/${number}/head`,
  commitUrl: commitUnder('-/commit'),
  ensureHook: ensureGitLabHook,
  branchHeads: gitLabBranchHeads,
  statusState: (state) => STATES[state],
  // GitLab refuses a state equal to the current one.
  acceptsSameState: false,
};
