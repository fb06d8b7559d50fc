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
  eventHeader: 'x-github-event',
  defaultApiUrl: 'https://api.github.com',
  deliveryId: (headers) => header(headers, 'x-github-delivery'),
  verify: verifyGitHub,
  payloadOf: jsonPayload,
  parse: (headers, payload) => parseGitHub(header(headers, 'x-github-event') ?? '', payload),
  postStatus: postGitHubStatus,
  // GitHub takes a token as the password of any user name over HTTPS.
  gitAuthConfig: (repo) =>
    repo.token ? [`http.extraHeader=Authorization: Basic ${Buffer.from(`x-access-token:${repo.token}`).toString('base64')}`] : [],
  // https://api.github.com → github.com; Enterprise https://HOST/api/v3 → HOST.
  defaultCloneUrl: (apiUrl, name) => `${new URL(apiUrl).origin.replace('//api.', '//')}/${name}.git`,
  pullRequestRef: (number) => `refs/pull/${number}/head`,
  commitUrl: commitUnder('commit'),
  checks: { state: checkState, post: postCheckRun },
  ensureHook: ensureGitHubHook,
  branchHeads: gitHubBranchHeads,
  redeliverMissed: redeliverGitHubMissed,
  statusState: (state) => STATES[state],
  acceptsSameState: true,
};
