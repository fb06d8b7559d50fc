import { ensureBitbucketHook } from './hooks.ts';
import { bitbucketBranchHeads } from './branches.ts';
import { verifyHubSignature } from '../bitbucket-common.ts';
import { header } from '../http-headers.ts';
import { jsonPayload } from '../payload.ts';
import type { Provider } from '../types.ts';
import { commitUnder } from '../web-url.ts';
import { parseBitbucket } from './parse.ts';
import { postBitbucketStatus, STATES } from './status.ts';

/** Bitbucket Cloud (bitbucket.org). */
export const bitbucket: Provider = {
  name: 'bitbucket',
  eventHeader: 'x-event-key',
  defaultApiUrl: 'https://api.bitbucket.org',
  deliveryId: (headers) => header(headers, 'x-request-uuid'),
  verify: verifyHubSignature,
  payloadOf: jsonPayload,
  parse: (headers, payload) => parseBitbucket(header(headers, 'x-event-key') ?? '', payload),
  postStatus: postBitbucketStatus,
  // Bitbucket takes an access token as the password of the fixed user x-token-auth.
  gitAuthConfig: (repo) =>
    repo.token ? [`http.extraHeader=Authorization: Basic ${Buffer.from(`x-token-auth:${repo.token}`).toString('base64')}`] : [],
  // Bitbucket Cloud has no pull request refs: a fork's head is fetched from the fork's own URL.
  defaultCloneUrl: (_apiUrl, name) => `https://bitbucket.org/${name}.git`,
  pullRequestRef: () => null,
  commitUrl: commitUnder('commits'),
  ensureHook: ensureBitbucketHook,
  branchHeads: bitbucketBranchHeads,
  statusState: (state) => STATES[state],
  acceptsSameState: true,
};
