import { bitbucket } from './bitbucket/index.ts';
import { bitbucketServer } from './bitbucket-server/index.ts';
import { gitea } from './gitea/index.ts';
import { github } from './github/index.ts';
import { gitlab } from './gitlab/index.ts';
import type { ForgeName, Headers, Provider } from './types.ts';

/** The registry of forges by name. Gitea comes before GitHub: it also sends GitHub's headers. */
const providers = new Map<string, Provider>([gitea, github, gitlab, bitbucket, bitbucketServer].map((p) => [p.name, p]));

export function providerFor(forge: string): Provider | undefined {
  return providers.get(forge);
}

export function forgeNames(): ForgeName[] {
  return [...providers.keys()] as ForgeName[];
}

/** The forge a request comes from, by its headers. */
export function detectForge(headers: Headers): Provider | undefined {
  return [...providers.values()].find((p) => p.detect(headers));
}

export * from './types.ts';
export { PayloadError } from './payload.ts';
export { RateLimitedError, retryAfterSeconds } from './retry-after.ts';
