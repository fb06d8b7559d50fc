import { createHmac, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';

const examples = createRequire(import.meta.url)('@octokit/webhooks-examples') as Array<{ name: string; examples: any[] }>;

/** The real example payloads of one GitHub event from @octokit/webhooks-examples. */
export function githubExamples(event: string): any[] {
  return structuredClone(examples.find((e) => e.name === event)?.examples ?? []);
}

/** A real push example, pointed at our repository and commit. */
export function pushPayload(repo: { name: string; cloneUrl: string }, sha: string, opts: { branch?: string; before?: string; message?: string } = {}): any {
  const payload = githubExamples('push').find((p) => p.ref.startsWith('refs/heads/') && p.head_commit);
  if (!payload) throw new Error('no branch push with a head commit in @octokit/webhooks-examples');
  payload.ref = `refs/heads/${opts.branch ?? 'main'}`;
  payload.before = opts.before ?? '0'.repeat(40);
  payload.after = sha;
  payload.created = payload.before === '0'.repeat(40);
  payload.deleted = false;
  payload.forced = false;
  payload.head_commit = { ...payload.head_commit, id: sha, message: opts.message ?? 'change' };
  payload.commits = [payload.head_commit];
  payload.repository.full_name = repo.name;
  payload.repository.name = repo.name.split('/')[1];
  payload.repository.clone_url = repo.cloneUrl;
  return payload;
}

export function signGitHub(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** POSTs a signed GitHub delivery; answers the status and parsed body. */
export async function sendGitHubHook(hookUrl: string, secret: string, event: string, payload: unknown, deliveryId = randomUUID()) {
  const body = JSON.stringify(payload);
  const res = await fetch(hookUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': event,
      'x-github-delivery': deliveryId,
      'x-hub-signature-256': signGitHub(secret, body),
      'user-agent': 'GitHub-Hookshot/test',
    },
    body,
  });
  return { status: res.status, body: (await res.json().catch(() => null)) as any, deliveryId };
}
