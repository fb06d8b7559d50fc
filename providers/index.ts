import { bitbucket } from './bitbucket/index.ts';
import { bitbucketServer } from './bitbucket-server/index.ts';
import { gitea } from './gitea/index.ts';
import { github } from './github/index.ts';
import { gitlab } from './gitlab/index.ts';
import type { ForgeName, Provider } from './types.ts';
/** The registry of forges by name: a hook's forge is always named (its repository's, or the URL's), never guessed from headers. */
const providers = new Map<string, Provider>([gitea, github, gitlab, bitbucket, bitbucketServer].map((p) => [p.name, p]));
export function providerFor(forge: string): Provider | undefined {
  return providers.get(forge);
}
export function forgeNames(): ForgeName[] {
  return [...providers.keys()] as ForgeName[];
}
export * from './types.ts';
export { PayloadError } from './payload.ts';
export { RateLimitedError } from './retry-after.ts';
