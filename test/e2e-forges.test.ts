import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { git } from '../git/index.ts';
import { registerRepo } from '../ingest/index.ts';
import { startFakeForge, type FakeForge, type RecordedRequest } from './helpers/fake-forge.ts';
import { startForgeline, waitFor, type TestForgeline } from './helpers/forgeline.ts';
import { createTestRepo } from './helpers/git-repo.ts';

const FIXTURES = new URL('./fixtures/webhooks/', import.meta.url);
const fixture = (file: string) => JSON.parse(readFileSync(new URL(file, FIXTURES), 'utf8'));
const hex = (secret: string, body: string) => createHmac('sha256', secret).update(body).digest('hex');

interface ForgeCase {
  forge: string;
  name: string;
  /** A real captured push of the forge, pointed at our repository and commit. */
  payload(sha: string, before: string): unknown;
  headers(secret: string, body: string): Record<string, string>;
  /** The forge's status endpoint for the commit, as the fake answers it. */
  statusPath(sha: string): RegExp;
  /** context → state, as the forge spells them, from one recorded status request. */
  read(req: RecordedRequest): { context: string; state: string };
  auth: RegExp;
  /** The states a context may show before it ends (a report reads the state when it runs: early ones may be skipped). */
  early: string[];
  success: string;
}

const CASES: ForgeCase[] = [
  {
    forge: 'gitlab', name: 'group/widget',
    payload: (sha, before) => {
      const p = fixture('gitlab/push.json');
      Object.assign(p, { ref: 'refs/heads/main', before, after: sha, checkout_sha: sha });
      p.project.path_with_namespace = 'group/widget';
      p.commits = [{ ...p.commits[0], id: sha, message: 'change' }];
      return p;
    },
    headers: (secret) => ({ 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': secret, 'x-gitlab-event-uuid': randomUUID() }),
    statusPath: (sha) => new RegExp(`^/api/v4/projects/group%2Fwidget/statuses/${sha}$`),
    read: (r) => ({ context: r.body.name, state: r.body.state }),
    auth: /./, early: ['pending', 'running'], success: 'success',
  },
  {
    forge: 'bitbucket', name: 'workspace/widget',
    payload: (sha, before) => {
      const p = fixture('bitbucket-cloud/push.json');
      const change = p.push.changes[0];
      change.new = { ...change.new, name: 'main', type: 'branch', target: { ...change.new.target, hash: sha, message: 'change' } };
      change.old = { ...change.old, name: 'main', target: { ...change.old.target, hash: before } };
      p.repository.full_name = 'workspace/widget';
      return p;
    },
    headers: (secret, body) => ({ 'x-event-key': 'repo:push', 'x-request-uuid': randomUUID(), 'x-hub-signature': `sha256=${hex(secret, body)}` }),
    statusPath: (sha) => new RegExp(`^/2.0/repositories/workspace/widget/commit/${sha}/statuses/build$`),
    read: (r) => ({ context: r.body.name, state: r.body.state }),
    auth: /^Bearer /, early: ['INPROGRESS'], success: 'SUCCESSFUL',
  },
  {
    forge: 'bitbucket-server', name: 'PROJ/widget',
    payload: (sha, before) => {
      const p = fixture('bitbucket-server/push.json');
      p.changes = [{ ...p.changes[0], ref: { ...p.changes[0].ref, id: 'refs/heads/main', displayId: 'main', type: 'BRANCH' }, refId: 'refs/heads/main', fromHash: before, toHash: sha, type: 'UPDATE' }];
      p.repository = { ...p.repository, slug: 'widget', project: { ...p.repository.project, key: 'PROJ' } };
      delete p.toCommit;
      delete p.commits;
      return p;
    },
    headers: (secret, body) => ({ 'x-event-key': 'repo:refs_changed', 'x-request-id': randomUUID(), 'x-hub-signature': `sha256=${hex(secret, body)}` }),
    statusPath: (sha) => new RegExp(`^/rest/api/latest/projects/PROJ/repos/widget/commits/${sha}/builds$`),
    read: (r) => ({ context: r.body.key, state: r.body.state }),
    auth: /^Bearer /, early: ['INPROGRESS'], success: 'SUCCESSFUL',
  },
  {
    forge: 'gitea', name: 'owner/widget',
    payload: (sha, before) => {
      const p = fixture('gitea/push.json');
      Object.assign(p, { ref: 'refs/heads/main', before, after: sha });
      p.head_commit = { ...p.head_commit, id: sha, message: 'change' };
      p.repository.full_name = 'owner/widget';
      return p;
    },
    headers: (secret, body) => ({ 'x-gitea-event': 'push', 'x-gitea-delivery': randomUUID(), 'x-gitea-signature': hex(secret, body) }),
    statusPath: (sha) => new RegExp(`^/api/v1/repos/owner/widget/statuses/${sha}$`),
    read: (r) => ({ context: r.body.context, state: r.body.state }),
    auth: /^token /, early: ['pending'], success: 'success',
  },
];

describe.each(CASES)('$forge, end to end: webhook in, run, statuses out', (c) => {
  let forgeline: TestForgeline;
  let fake: FakeForge;

  beforeAll(async () => {
    forgeline = await startForgeline({ workers: 2 });
    fake = await startFakeForge([(r) => (r.method === 'POST' && /statuses|builds/.test(r.path) ? { status: 201, body: { ok: true } } : null)]);
  });
  afterAll(async () => {
    await forgeline?.stop();
    await fake?.close();
  });

  it('builds a real push and reports every context pending then success', async () => {
    const repo = await createTestRepo();
    const before = await repo.commit({ 'README.md': 'x' }, 'base');
    const sha = await repo.commit({ '.forgeline/ci.yml': 'on: { push: { branches: [main] } }\nstages:\n  build: { steps: [{ run: "echo built" }] }\n  test:\n    needs: [build]\n    steps: [{ run: "echo tested" }]\n' });
    const hook = await registerRepo(
      { pool: forgeline.runtime.db.pool, box: forgeline.runtime.deps.box, publicUrl: forgeline.url, urls: forgeline.config.urls },
      { forge: c.forge, name: c.name, cloneUrl: repo.cloneUrl, apiUrl: fake.url, token: 'forge-api-token' }, 'test');
    const body = JSON.stringify(c.payload(sha, before));
    const res = await fetch(hook.hookUrl, { method: 'POST', body, headers: { 'content-type': 'application/json', ...c.headers(hook.secret, body) } });
    expect(res.status).toBe(202);

    const statuses = () => fake.requests.filter((r) => r.method === 'POST' && c.statusPath(sha).test(r.path));
    await waitFor(async () => (statuses().some((r) => c.read(r).context === 'forgeline/ci/push' && c.read(r).state === c.success) ? true : undefined), 'the run context to succeed');
    const byContext = new Map<string, string[]>();
    for (const r of statuses()) {
      const { context, state } = c.read(r);
      byContext.set(context, [...(byContext.get(context) ?? []), state]);
      expect(String(r.headers.authorization ?? r.headers['private-token'] ?? '')).toMatch(c.auth);
    }
    expect([...byContext.keys()].sort()).toEqual(['forgeline/ci/push', 'forgeline/ci/push/build', 'forgeline/ci/push/test']);
    // Something was reported before the end, and no context ever goes back from its final state.
    expect([...byContext.values()].some((states) => c.early.includes(states[0]!))).toBe(true);
    for (const [context, states] of byContext) {
      expect([...c.early, c.success], context).toContain(states[0]);
      expect(states.at(-1), context).toBe(c.success);
      expect(states.slice(states.indexOf(c.success)).every((st) => st === c.success), `${context}: ${states.join(' → ')}`).toBe(true);
      // GitLab refuses a state equal to the current one: it never gets one.
      if (c.forge === 'gitlab') expect(states.some((s, i) => i > 0 && s === states[i - 1]), context).toBe(false);
    }
  });

  it.runIf(c.forge === 'bitbucket-server')('builds a new annotated tag at the commit it points at, though Data Center names the tag object', async () => {
    const repo = await createTestRepo();
    const sha = await repo.commit({ '.forgeline/release.yml': 'on: { push: { tags: ["v*"] } }\nstages:\n  release: { steps: [{ run: "echo releasing $FORGELINE_SHA" }] }\n' });
    await git(['tag', '-a', 'v1.0', '-m', 'v1.0', sha], { cwd: repo.work, config: ['user.name=Test', 'user.email=test@example.com'] });
    await git(['push', '--quiet', repo.bare, 'refs/tags/v1.0'], { cwd: repo.work });
    const tagObject = (await git(['rev-parse', 'refs/tags/v1.0'], { cwd: repo.work })).trim();
    expect(tagObject).not.toBe(sha);
    const hook = await registerRepo(
      { pool: forgeline.runtime.db.pool, box: forgeline.runtime.deps.box, publicUrl: forgeline.url, urls: forgeline.config.urls },
      { forge: c.forge, name: 'PROJ/tagged', cloneUrl: repo.cloneUrl, apiUrl: fake.url, token: 'forge-api-token' }, 'test');
    const p = fixture('bitbucket-server/push.json');
    p.changes = [{ ref: { id: 'refs/tags/v1.0', displayId: 'v1.0', type: 'TAG' }, refId: 'refs/tags/v1.0', fromHash: '0'.repeat(40), toHash: tagObject, type: 'ADD' }];
    p.repository = { ...p.repository, slug: 'tagged', project: { ...p.repository.project, key: 'PROJ' } };
    delete p.toCommit;
    delete p.commits;
    const body = JSON.stringify(p);
    const res = await fetch(hook.hookUrl, { method: 'POST', body, headers: { 'content-type': 'application/json', ...c.headers(hook.secret, body) } });
    expect(res.status).toBe(202);
    const statusPath = (id: string) => new RegExp(`^/rest/api/latest/projects/PROJ/repos/tagged/commits/${id}/builds$`);
    const done = (r: RecordedRequest) => r.method === 'POST' && statusPath(sha).test(r.path) && c.read(r).context === 'forgeline/release/tag' && c.read(r).state === c.success;
    await waitFor(async () => (fake.requests.some(done) ? true : undefined), 'the tag\'s run to succeed on its commit');
    expect(fake.requests.filter((r) => statusPath(tagObject).test(r.path))).toEqual([]);
    const { items } = await (await fetch(`${forgeline.url}/api/runs?repo=${hook.id}`)).json() as { items: Array<{ id: number; sha: string }> };
    expect(items.map((r) => r.sha)).toEqual([sha]);
    expect(await (await fetch(`${forgeline.url}/api/runs/${items[0]!.id}/stages/release/log`)).text()).toContain(`releasing ${sha}`);
  });
});
