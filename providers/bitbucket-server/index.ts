import { ensureBitbucketServerHook } from './hooks.ts';
import { bitbucketServerBranchHeads } from './branches.ts';
import { verifyHubSignature } from '../bitbucket-common.ts';
import { header } from '../http-headers.ts';
import { jsonPayload } from '../payload.ts';
import type { Provider } from '../types.ts';
import { webPage } from '../web-url.ts';
import { parseBitbucketServer } from './parse.ts';
import { postBitbucketServerStatus, STATES } from './status.ts';

/** Bitbucket Data Center (formerly Server), self-hosted. */
export const bitbucketServer: Provider = {
  name: 'bitbucket-server',
  verify: {
    deliveryId: (headers) => header(headers, 'x-request-id'),
    proves: verifyHubSignature,
  },
  parse: {
    eventHeader: 'x-event-key',
    payloadOf: jsonPayload,
    events: (headers, payload) => parseBitbucketServer(header(headers, 'x-event-key') ?? '', payload),
  },
  statuses: {
    post: postBitbucketServerStatus,
    state: (state) => STATES[state],
    acceptsSameState: true,
  },
  hooks: {
    ensure: ensureBitbucketServerHook,
  },
  deliveries: {
    branchHeads: bitbucketServerBranchHeads,
  },
  credentials: {
    defaultApiUrl: '',
    // Data Center serves git over HTTP under /scm, with the project key in lower case.
    defaultCloneUrl: (apiUrl, name) => `${apiUrl.replace(/\/+$/, '')}/scm/${name.toLowerCase()}.git`,
    // Data Center's HTTP access tokens are accepted as Bearer credentials by git over HTTP as by the REST API.
    gitAuthConfig: (repo) => (repo.token ? [`http.extraHeader=Authorization: Bearer ${repo.token}`] : []),
    pullRequestRef: (number) => `refs/pull-requests/${number}/from`,
    // Clone URLs are <base>/scm/<project>/<repo>.git; the web pages <base>/projects/<PROJECT>/repos/<repo>.
    commitUrl(cloneUrl, sha) {
      const page = webPage(cloneUrl);
      const at = page && /^(.*)\/scm\/([^/]+)\/([^/]+)$/.exec(page.pathname);
      if (!at) return null;
      // A personal project (~user) lives under /users/<user>.
      const owner = at[2]!.startsWith('~') ? `users/${at[2]!.slice(1)}` : `projects/${at[2]!.toUpperCase()}`;
      return `${page.origin}${at[1]}/${owner}/repos/${at[3]}/commits/${sha}`;
    },
  },
};
