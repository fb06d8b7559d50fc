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
  verify: {
    deliveryId: (headers) => header(headers, 'x-request-uuid'),
    proves: verifyHubSignature,
  },
  parse: {
    eventHeader: 'x-event-key',
    payloadOf: jsonPayload,
    events: (headers, payload) => parseBitbucket(header(headers, 'x-event-key') ?? '', payload),
  },
  statuses: {
    post: postBitbucketStatus,
    state: (state) => STATES[state],
    acceptsSameState: true,
  },
  hooks: {
    ensure: ensureBitbucketHook,
  },
  deliveries: {
    branchHeads: bitbucketBranchHeads,
  },
  credentials: {
    defaultApiUrl: 'https://api.bitbucket.org',
    defaultCloneUrl: (_apiUrl, name) => `https://bitbucket.org/${name}.git`,
    // Bitbucket takes an access token as the password of the fixed user x-token-auth.
    gitAuthConfig: (repo) =>
      repo.token ? [`http.extraHeader=Authorization: Basic ${Buffer.from(`x-token-auth:${repo.token}`).toString('base64')}`] : [],
    // Bitbucket Cloud has no pull request refs: a fork's head is fetched from the fork's own URL.
    pullRequestRef: () => null,
    commitUrl: commitUnder('commits'),
  },
};
