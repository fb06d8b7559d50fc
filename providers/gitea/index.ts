import { ensureGiteaHook } from './hooks.ts';
import { giteaBranchHeads } from './branches.ts';
import { header } from '../http-headers.ts';
import { jsonPayload } from '../payload.ts';
import type { Headers, Provider } from '../types.ts';
import { parseGitea } from './parse.ts';
import { postGiteaStatus, STATES } from './status.ts';
import { giteaSignedBytes, verifyGitea } from './verify.ts';
import { commitUnder } from '../web-url.ts';

// Forgejo sends its own X-Forgejo-* headers and may leave out Gitea's.
function eventName(headers: Headers): string | null {
  return header(headers, 'x-gitea-event') ?? header(headers, 'x-forgejo-event');
}

export const gitea: Provider = {
  name: 'gitea',
  verify: {
    deliveryId: (headers) => header(headers, 'x-gitea-delivery') || header(headers, 'x-forgejo-delivery') || null,
    proves: verifyGitea,
    signedBytes: (headers, rawBody) => giteaSignedBytes(headers, rawBody) ?? rawBody,
  },
  parse: {
    eventHeader: 'x-gitea-event',
    payloadOf: jsonPayload,
    events: (headers, payload) => parseGitea(eventName(headers) ?? '', payload),
  },
  statuses: {
    post: postGiteaStatus,
    state: (state) => STATES[state],
    acceptsSameState: true,
  },
  hooks: {
    ensure: ensureGiteaHook,
  },
  deliveries: {
    branchHeads: giteaBranchHeads,
  },
  credentials: {
    defaultApiUrl: 'https://gitea.com',
    defaultCloneUrl: (apiUrl, name) => `${apiUrl.replace(/\/+$/, '')}/${name}.git`,
    // Gitea takes a token as the password of any user name over HTTPS.
    gitAuthConfig: (repo) =>
      repo.token ? [`http.extraHeader=Authorization: Basic ${Buffer.from(`forgeline:${repo.token}`).toString('base64')}`] : [],
    pullRequestRef: (number) => `refs/pull/${number}/head`,
    commitUrl: commitUnder('commit'),
  },
};
