import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerRepo } from '../ingest/index.ts';
import { startForgeline, waitFor, type TestForgeline } from './helpers/forgeline.ts';
import { createTestRepo, type TestRepo } from './helpers/git-repo.ts';
import { FIXTURES, FORGE, hex, manifest, repoOf, signed } from './helpers/forge-fixtures.ts';

const GITEA_ORG_SECRET = 'gitea-org-secret';

describe('real deliveries of every forge, through the front door', () => {
  let forgeline: TestForgeline;
  const hooks = new Map<string, { hookUrl: string; secret: string }>();

  beforeAll(async () => {
    forgeline = await startForgeline({ workers: 0, env: { FORGELINE_GITEA_WEBHOOK_SECRET: GITEA_ORG_SECRET, FORGELINE_GITHUB_WEBHOOK_SECRET: 'github-org-secret' } });
    for (const f of manifest.filter((m) => m.expect.repo)) {
      const forge = FORGE[f.provider]!;
      const name = repoOf(forge, JSON.parse(readFileSync(new URL(f.file, FIXTURES), 'utf8')));
      if (!name || hooks.has(`${forge}:${name.toLowerCase()}`)) continue;
      hooks.set(`${forge}:${name.toLowerCase()}`, await registerRepo(
        { pool: forgeline.runtime.db.pool, box: forgeline.runtime.deps.box, publicUrl: forgeline.url, urls: forgeline.config.urls },
        { forge, name, cloneUrl: 'file:///nowhere.git', apiUrl: 'http://127.0.0.1:9' }, 'test'));
    }
  });
  afterAll(() => forgeline?.stop());

  it.each(manifest.filter((f) => f.expect.repo).map((f) => [f.file, f] as const))('%s', async (_file, fixture) => {
    const forge = FORGE[fixture.provider]!;
    const body = readFileSync(new URL(fixture.file, FIXTURES), 'utf8');
    const hook = hooks.get(`${forge}:${repoOf(forge, JSON.parse(body)).toLowerCase()}`)!;
    const headers = { 'content-type': 'application/json', ...Object.fromEntries(Object.entries(fixture.headers).map(([k, v]) => [k.toLowerCase(), v])), ...signed(forge, hook.secret, body) };
    const res = await fetch(hook.hookUrl, { method: 'POST', headers, body });
    const answer = await res.json() as { delivery: string; status: string };
    const acts = ['push', 'tag', 'pull_request'].includes(fixture.expect.kind);
    expect([res.status, answer.status]).toEqual(acts ? [202, 'accepted'] : [200, 'ignored']);
    const delivery = await (await fetch(`${forgeline.url}/api/deliveries/${answer.delivery}`)).json() as any;
    expect(delivery.forge).toBe(forge);
    if (acts) expect(delivery.events.map((e: any) => e.kind)).toEqual((fixture.expect.changes ?? [fixture.expect]).map(() => fixture.expect.kind));
    // Proofs never reach storage.
    expect(JSON.stringify(delivery.headers)).not.toContain(hook.secret);
  });

  it('takes a Gitea delivery carrying GitHub\'s headers as Gitea\'s on the Gitea hook, and not as GitHub\'s', async () => {
    // A push of its own: the fixture itself was delivered above, and would be a duplicate.
    const push = JSON.parse(readFileSync(new URL('gitea/push.json', FIXTURES), 'utf8'));
    push.after = randomBytes(20).toString('hex');
    push.head_commit = { ...push.head_commit, id: push.after };
    const body = JSON.stringify(push);
    // What Gitea sends: its own headers, GitHub's and Gogs' too, every signature made with the hook's secret.
    const asGiteaSends = (secret: string) => ({
      'content-type': 'application/json', 'x-gitea-event': 'push', 'x-gitea-delivery': randomUUID(), 'x-gitea-signature': hex(secret, body),
      'x-github-event': 'push', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': `sha256=${hex(secret, body)}`, 'x-gogs-event': 'push',
    });
    const onGitea = await fetch(`${forgeline.url}/hooks/gitea`, { method: 'POST', body, headers: asGiteaSends(GITEA_ORG_SECRET) });
    expect(onGitea.status).toBe(202);
    const { delivery } = await onGitea.json() as { delivery: string };
    expect(await (await fetch(`${forgeline.url}/api/deliveries/${delivery}`)).json()).toMatchObject({ forge: 'gitea', repo: 'Test-CI/multi-line-secrets', status: 'accepted' });
    // GitHub's forge-wide hook verifies with GitHub's secret only: Gitea's signature is no proof there.
    expect((await fetch(`${forgeline.url}/hooks/github`, { method: 'POST', body, headers: asGiteaSends(GITEA_ORG_SECRET) })).status).toBe(401);
  });

  it('stores a Gitea branch deletion as a deleted push with no commit', async () => {
    // Gitea's DeletePayload, with the repository and sender of the captured push.
    const push = JSON.parse(readFileSync(new URL('gitea/push.json', FIXTURES), 'utf8'));
    const body = JSON.stringify({ ref: 'feature/gone', ref_type: 'branch', pusher_type: 'user', repository: push.repository, sender: push.sender });
    const res = await fetch(`${forgeline.url}/hooks/gitea`, {
      method: 'POST', body,
      headers: { 'content-type': 'application/json', 'x-gitea-event': 'delete', 'x-gitea-delivery': randomUUID(), 'x-gitea-signature': hex(GITEA_ORG_SECRET, body) },
    });
    expect(res.status).toBe(202);
    const { delivery } = await res.json() as { delivery: string };
    const stored = await (await fetch(`${forgeline.url}/api/deliveries/${delivery}`)).json() as any;
    expect(stored.events).toEqual([expect.objectContaining({ kind: 'push', ref: 'refs/heads/feature/gone', branch: 'feature/gone', deleted: true, sha: null })]);
  });
});

describe('GitLab signing tokens, through the front door', () => {
  let forgeline: TestForgeline;
  beforeAll(async () => { forgeline = await startForgeline({ workers: 0 }); });
  afterAll(() => forgeline?.stop());

  it('accepts a push signed with a whsec_ token (Standard Webhooks), and refuses a stale or altered one', async () => {
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    const { hookUrl } = await registerRepo(
      { pool: forgeline.runtime.db.pool, box: forgeline.runtime.deps.box, publicUrl: forgeline.url, urls: forgeline.config.urls },
      { forge: 'gitlab', name: 'group/signed', cloneUrl: 'file:///nowhere.git', apiUrl: 'http://127.0.0.1:9', secret }, 'test');
    const payload = JSON.parse(readFileSync(new URL('gitlab/push.json', FIXTURES), 'utf8'));
    payload.project.path_with_namespace = 'group/signed';
    const body = JSON.stringify(payload);
    // Standard Webhooks, written out here: base64 HMAC-SHA256 of `id.timestamp.body` under the token's key.
    const send = (timestamp: number, sign = body) => {
      const id = `msg_${randomUUID()}`;
      const mac = createHmac('sha256', Buffer.from(secret.slice('whsec_'.length), 'base64')).update(`${id}.${timestamp}.${sign}`).digest('base64');
      return fetch(hookUrl, { method: 'POST', body, headers: {
        'content-type': 'application/json', 'x-gitlab-event': 'Push Hook', 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': `v1,${mac}`,
      } });
    };
    const now = Math.floor(Date.now() / 1000);
    expect((await send(now - 6 * 60)).status).toBe(401);
    expect((await send(now, `${body} `)).status).toBe(401);
    const res = await send(now);
    expect(res.status).toBe(202);
    const { delivery } = await res.json() as { delivery: string };
    const stored = await (await fetch(`${forgeline.url}/api/deliveries/${delivery}`)).json() as any;
    expect(stored).toMatchObject({ forge: 'gitlab', repo: 'group/signed', events: [{ kind: 'push', sha: payload.checkout_sha }] });
    expect(stored.headers['webhook-signature']).toBe('[redacted]');
  });
});

describe('Bitbucket Cloud pull requests', () => {
  let forgeline: TestForgeline;
  let repo: TestRepo;
  let hook: { hookUrl: string; secret: string };

  beforeAll(async () => {
    [forgeline, repo] = await Promise.all([startForgeline({ workers: 1 }), createTestRepo()]);
    hook = await registerRepo(
      { pool: forgeline.runtime.db.pool, box: forgeline.runtime.deps.box, publicUrl: forgeline.url, urls: forgeline.config.urls },
      { forge: 'bitbucket', name: '6543/collect-webhooks', cloneUrl: repo.cloneUrl, apiUrl: 'http://127.0.0.1:9' }, 'test');
  });
  afterAll(() => forgeline?.stop());

  async function send(file: string, key: string, edit: (p: any) => void) {
    const payload = JSON.parse(readFileSync(new URL(`bitbucket-cloud/${file}`, FIXTURES), 'utf8'));
    edit(payload);
    const body = JSON.stringify(payload);
    const res = await fetch(hook.hookUrl, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-event-key': key, ...signed('bitbucket', hook.secret, body) } });
    expect(res.status).toBe(202);
    const { delivery } = await res.json() as { delivery: string };
    return waitFor(async () => {
      const d = await (await fetch(`${forgeline.url}/api/deliveries/${delivery}`)).json() as any;
      return d.explain.length ? d : undefined;
    }, 'planning');
  }

  it('tells new commits from edits by the last head seen, and resolves 12-character ids to full ones', async () => {
    await repo.commit({ 'base.txt': 'base' }, 'base', 'niam');
    const first = await repo.commit({ 'f.txt': '1' }, 'first', 'wen-emos');
    const created = await send('pr-created.json', 'pullrequest:created', (p) => { p.pullrequest.source.commit.hash = first.slice(0, 12); });
    expect(created.events[0]).toMatchObject({ action: 'opened', sha: first, pullRequest: { headSha: first } });

    const second = await repo.commit({ 'f.txt': '2' }, 'second', 'wen-emos');
    const pushed = await send('pr-updated-new-commits.json', 'pullrequest:updated', (p) => { p.pullrequest.source.commit.hash = second.slice(0, 12); });
    expect(pushed.events[0]).toMatchObject({ action: 'synchronize', sha: second });

    const edited = await send('pr-updated-new-commits.json', 'pullrequest:updated', (p) => {
      p.pullrequest.source.commit.hash = second.slice(0, 12);
      p.pullrequest.title = 'a new title, no new commits';
    });
    expect(edited.events[0]).toMatchObject({ action: 'edited', sha: second });
  });
});
