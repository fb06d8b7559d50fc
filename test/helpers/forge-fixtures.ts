// The deliveries captured from real forges in test/fixtures/webhooks, and
// how each forge signs and names them (docs/api.md, "Hooks"), for front-door tests.
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';

export const FIXTURES = new URL('../fixtures/webhooks/', import.meta.url);

export interface FixtureEntry {
  file: string;
  provider: string;
  headers: Record<string, string>;
  expect: Record<string, any>;
}

export const manifest = JSON.parse(readFileSync(new URL('manifest.json', FIXTURES), 'utf8')) as FixtureEntry[];

/** Forgeline's forge name for each provider folder of the fixtures. */
export const FORGE: Record<string, string> = { github: 'github', gitlab: 'gitlab', 'bitbucket-cloud': 'bitbucket', 'bitbucket-server': 'bitbucket-server', gitea: 'gitea' };

export const fixtureText = (file: string) => readFileSync(new URL(file, FIXTURES), 'utf8');

export const hex = (secret: string, body: string) => createHmac('sha256', secret).update(body).digest('hex');

/** The proof each forge sends (docs/api.md, "Hooks"), and its delivery id header. */
export function signed(forge: string, secret: string, body: string): Record<string, string> {
  switch (forge) {
    case 'github': return { 'x-hub-signature-256': `sha256=${hex(secret, body)}`, 'x-github-delivery': randomUUID() };
    case 'gitlab': return { 'x-gitlab-token': secret, 'x-gitlab-event-uuid': randomUUID() };
    case 'bitbucket': return { 'x-hub-signature': `sha256=${hex(secret, body)}`, 'x-request-uuid': randomUUID() };
    case 'bitbucket-server': return { 'x-hub-signature': `sha256=${hex(secret, body)}`, 'x-request-id': randomUUID() };
    default: return { 'x-gitea-signature': hex(secret, body), 'x-gitea-delivery': randomUUID() };
  }
}

/** The repository a fixture names, as each forge spells it. */
export function repoOf(forge: string, payload: any): string {
  if (forge === 'gitlab') return payload.project.path_with_namespace;
  if (forge === 'bitbucket-server') {
    const r = payload.repository ?? payload.pullRequest.toRef.repository;
    return `${r.project.key}/${r.slug}`;
  }
  return payload.repository.full_name;
}
