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
  eventHeader: 'x-gitea-event',
  defaultApiUrl: 'https://gitea.com',
  deliveryId: (headers) => header(headers, 'x-gitea-delivery') || header(headers, 'x-forgejo-delivery') || null,
  verify: verifyGitea,
  signedBytes: (headers, rawBody) => giteaSignedBytes(headers, rawBody) ?? rawBody,
  payloadOf: jsonPayload,
  parse: (headers, payload) => parseGitea(eventName(headers) ?? '', payload),
  postStatus: postGiteaStatus,
  // Gitea takes a token as the password of any user name over HTTPS.
  gitAuthConfig: (repo) =>
    repo.token ? [`http.extraHeader=Authorization: Basic ${Buffer.from(`forgeline:${repo.token}`).toString('base64')}`] : [],
  defaultCloneUrl: (apiUrl, name) => `${apiUrl.replace(/\/+$/, '')}/${name}.git`,
  pullRequestRef: (number) => `refs/pull/${number}/head`,
  commitUrl: commitUnder('commit'),
  ensureHook: ensureGiteaHook,
  branchHeads: giteaBranchHeads,
  statusState: (state) => STATES[state],
  acceptsSameState: true,
};
