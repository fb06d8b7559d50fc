import { ensureGitHubHook } from './hooks.ts';
import { gitHubBranchHeads } from './branches.ts';
import { redeliverGitHubMissed } from './deliveries.ts';
import { header } from '../http-headers.ts';
import { jsonPayload } from '../payload.ts';
import type { Provider } from '../types.ts';
import { commitUnder } from '../web-url.ts';
import { parseGitHub } from './parse.ts';
import { postGitHubStatus, STATES } from './status.ts';
import { verifyGitHub } from './verify.ts';
import { checkState, postCheckRun } from './checks.ts';

export const github: Provider = {
  name: 'github',
  verify: {
    deliveryId: (headers) => header(headers, 'x-github-delivery'),
    proves: verifyGitHub,
  },
  parse: {
    eventHeader: 'x-github-event',
    payloadOf: jsonPayload,
    events: (headers, payload) => parseGitHub(header(headers, 'x-github-event') ?? '', payload),
  },
  statuses: {
    post: postGitHubStatus,
    state: (state) => STATES[state],
    acceptsSameState: true,
  },
  hooks: {
    ensure: ensureGitHubHook,
  },
  deliveries: {
    branchHeads: gitHubBranchHeads,
    redeliverMissed: redeliverGitHubMissed,
  },
  credentials: {
    defaultApiUrl: 'https://api.github.com',
    // https://api.github.com → github.com; Enterprise https://HOST/api/v3 → HOST.
    defaultCloneUrl: (apiUrl, name) => `${new URL(apiUrl).origin.replace('//api.', '//')}/${name}.git`,
    // GitHub takes a token as the password of any user name over HTTPS.
    gitAuthConfig: (repo) =>
      repo.token ? [`http.extraHeader=Authorization: Basic ${Buffer.from(`x-access-token:${repo.token}`).toString('base64')}`] : [],
    pullRequestRef: (number) => `refs/pull/${number}/head`,
    commitUrl: commitUnder('commit'),
  },
  checks: { state: checkState, post: postCheckRun },
};
