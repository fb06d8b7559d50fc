import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { registerRepo, rotateSecret } from '../ingest/index.ts';
import { deliveries } from '../store/index.ts';
import { startForgeline, waitFor, type TestForgeline } from './helpers/forgeline.ts';
import { createTestRepo, type TestRepo } from './helpers/git-repo.ts';
import { githubExamples, pushPayload, sendGitHubHook, signGitHub } from './helpers/github-webhook.ts';
import { startDatabaseProxy, type TcpProxy } from './helpers/tcp-proxy.ts';

const ORG_SECRET = 'organisation-hook-secret';

describe('ingest', () => {
  let forgeline: TestForgeline;
  let repo: TestRepo;
  let hook: { id: string; hookUrl: string; secret: string };
  const count = async (sql: string, values: unknown[] = []) => (await forgeline.runtime.db.pool.query(sql, values)).rows[0].n as number;

  beforeAll(async () => {
    [forgeline, repo] = await Promise.all([
      startForgeline({ workers: 1, env: { FORGELINE_GITHUB_WEBHOOK_SECRET: `unused,${ORG_SECRET}`, FORGELINE_UNVERIFIED_PER_MINUTE: '100000', FORGELINE_API_TOKEN: 'admin-token' } }),
      createTestRepo(),
    ]);
    hook = await registerRepo(
      { pool: forgeline.runtime.db.pool, box: forgeline.runtime.deps.box, publicUrl: forgeline.url, urls: forgeline.config.urls },
      { forge: 'github', name: 'acme/ingest', cloneUrl: repo.cloneUrl, apiUrl: 'http://127.0.0.1:9/api/v3' }, 'test');
  });
  afterAll(() => forgeline?.stop());

  const push = (sha: string, extra: Record<string, unknown> = {}) => ({ ...pushPayload({ name: 'acme/ingest', cloneUrl: repo.cloneUrl }, sha), ...extra });

  it('answers a duplicate for each of the three rules, and plans once', async () => {
    const sha = await repo.commit({ 'a.txt': 'a' });
    const payload = push(sha);
    const first = await sendGitHubHook(hook.hookUrl, hook.secret, 'push', payload);
    expect(first.status).toBe(202);

    // 1. The same delivery id again.
    const sameId = await sendGitHubHook(hook.hookUrl, hook.secret, 'push', payload, first.deliveryId);
    expect([sameId.status, sameId.body.status]).toEqual([200, 'duplicate']);
    // 2. The same body with a fresh id: a replayed capture.
    const sameBody = await sendGitHubHook(hook.hookUrl, hook.secret, 'push', payload);
    expect([sameBody.status, sameBody.body.status]).toEqual([200, 'duplicate']);
    // 3. Another body for the same (ref, sha): the organisation hook's copy.
    const viaOrg = await sendGitHubHook(`${forgeline.url}/hooks/github`, ORG_SECRET, 'push', { ...payload, organization: { login: 'acme' } });
    expect([viaOrg.status, viaOrg.body.status]).toEqual([200, 'duplicate']);

    const reasons = (await forgeline.runtime.db.pool.query(
      `SELECT reason FROM deliveries WHERE status = 'duplicate' ORDER BY received_at`)).rows.map((r) => r.reason);
    expect(reasons).toEqual([
      `delivery id ${first.deliveryId} was seen before`,
      `same body as delivery ${first.body.delivery}`,
      `refs/heads/main at ${sha.slice(0, 12)} already planned`,
    ]);
    await waitFor(async () => ((await count(`SELECT count(*)::int AS n FROM deliveries WHERE explain <> '[]'`)) > 0 ? true : undefined), 'planning');
    expect(await count('SELECT count(*)::int AS n FROM ref_updates WHERE sha = $1', [sha])).toBe(1);
  });

  it('holds concurrent copies of one delivery to a single accepted one', async () => {
    const sha = await repo.commit({ 'b.txt': 'b' });
    const payload = push(sha);
    const id = crypto.randomUUID();
    const answers = await Promise.all(Array.from({ length: 8 }, () => sendGitHubHook(hook.hookUrl, hook.secret, 'push', payload, id)));
    expect(answers.filter((a) => a.status === 202)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 200 && a.body.status === 'duplicate')).toHaveLength(7);
  });

  it('holds concurrent copies of one body under fresh delivery ids to one accepted, and accepts the body again after 30 days', async () => {
    const pr = githubExamples('pull_request').find((p) => p.action === 'opened');
    pr.repository.full_name = 'acme/ingest';
    pr.pull_request.base.repo.full_name = pr.pull_request.head.repo.full_name = 'acme/ingest';
    pr.pull_request.head.sha = await repo.commit({ 'pr.txt': 'pr' }, 'pr', 'feature');
    // A pull request event claims no ref update: only the body rule can hold these back.
    const answers = await Promise.all(Array.from({ length: 8 }, () => sendGitHubHook(hook.hookUrl, hook.secret, 'pull_request', pr)));
    const accepted = answers.filter((a) => a.status === 202);
    expect(accepted).toHaveLength(1);
    expect(answers.filter((a) => a.body.status === 'duplicate')).toHaveLength(7);
    const pool = forgeline.runtime.db.pool;
    const reasons = (await pool.query(`SELECT DISTINCT reason FROM deliveries WHERE id = ANY($1::text[])`, [answers.map((a) => a.body.delivery)])).rows.map((r) => r.reason);
    expect(reasons.filter(Boolean)).toEqual([`same body as delivery ${accepted[0]!.body.delivery}`]);
    // Within 30 days, still a duplicate; past them, the body is new again.
    expect((await sendGitHubHook(hook.hookUrl, hook.secret, 'pull_request', pr)).body.status).toBe('duplicate');
    await pool.query(`UPDATE body_claims SET claimed_at = now() - interval '31 days' WHERE delivery_id = $1`, [accepted[0]!.body.delivery]);
    const later = await sendGitHubHook(hook.hookUrl, hook.secret, 'pull_request', pr);
    expect([later.status, later.body.status]).toEqual([202, 'accepted']);
    const again = await sendGitHubHook(hook.hookUrl, hook.secret, 'pull_request', pr);
    expect(again.body.status).toBe('duplicate');
    expect((await pool.query('SELECT reason FROM deliveries WHERE id = $1', [again.body.delivery])).rows[0].reason).toBe(`same body as delivery ${later.body.delivery}`);
  });

  it('lets one of two transactions storing the same body side by side accept it, whichever commits first', async () => {
    const pool = forgeline.runtime.db.pool;
    const repoId = (await pool.query(`SELECT id FROM repos WHERE name = 'acme/ingest'`)).rows[0].id;
    const body = Buffer.from(JSON.stringify({ side: 'by side', at: Date.now() }));
    const delivery = (id: string): deliveries.NewDelivery => ({
      id, hook: hook.id, forge: 'github', repoId, forgeDeliveryId: crypto.randomUUID(), eventHeader: 'pull_request', sourceAddress: null,
      receivedAt: new Date(), headers: {}, body, bodySha256: createHash('sha256').update(body).digest('hex'), status: 'accepted', reason: null,
      events: [], refUpdates: [], actionFromHead: false,
    });
    const [a, b] = [await pool.connect(), await pool.connect()];
    try {
      await a.query('BEGIN');
      await b.query('BEGIN');
      const first = await deliveries.storeDeliveries(a, [delivery('side-a')]);
      // b waits on a's claim of the body; a commits, so b's copy is the duplicate.
      const second = deliveries.storeDeliveries(b, [delivery('side-b')]);
      await new Promise((r) => setTimeout(r, 200));
      await a.query('COMMIT');
      expect(first[0]!.status).toBe('accepted');
      expect((await second)[0]).toMatchObject({ status: 'duplicate', reason: 'same body as delivery received moments before' });
      await b.query('COMMIT');
    } finally {
      a.release();
      b.release();
    }
  });

  it('accepts forge-wide deliveries for registered repositories only', async () => {
    const sha = await repo.commit({ 'c.txt': 'c' });
    const accepted = await sendGitHubHook(`${forgeline.url}/hooks/github`, ORG_SECRET, 'push', push(sha));
    expect(accepted.status).toBe(202);
    const stranger = push(sha);
    stranger.repository = { ...stranger.repository, full_name: 'someone/else' };
    const ignored = await sendGitHubHook(`${forgeline.url}/hooks/github`, ORG_SECRET, 'push', stranger);
    expect(ignored.body).toMatchObject({ status: 'ignored', reason: 'repository someone/else is not registered' });
    expect((await sendGitHubHook(`${forgeline.url}/hooks/github`, hook.secret, 'push', push(sha))).status).toBe(401);
    // No FORGELINE_GITLAB_WEBHOOK_SECRET: the GitLab forge-wide hook proves nothing, so refuses all.
    const gitlab = await fetch(`${forgeline.url}/hooks/gitlab`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': '' }, body: '{}' });
    expect(gitlab.status).toBe(401);
  });

  it('keeps the old secret valid through a rotation until it is retired', async () => {
    const deps = { pool: forgeline.runtime.db.pool, box: forgeline.runtime.deps.box };
    const rotated = await rotateSecret(deps, 'acme/ingest', { retireOld: false }, 'test');
    forgeline.runtime.ingest.directory.forget();
    const ping = { zen: 'rotate', hook_id: 1, repository: { full_name: 'acme/ingest' } };
    expect((await sendGitHubHook(hook.hookUrl, hook.secret, 'ping', ping)).status).toBe(200);
    expect((await sendGitHubHook(hook.hookUrl, rotated.secret!, 'ping', { ...ping, zen: 'new' })).status).toBe(200);
    await rotateSecret(deps, hook.id, { retireOld: true }, 'test');
    forgeline.runtime.ingest.directory.forget();
    expect((await sendGitHubHook(hook.hookUrl, hook.secret, 'ping', { ...ping, zen: 'old again' })).status).toBe(401);
    expect((await sendGitHubHook(hook.hookUrl, rotated.secret!, 'ping', { ...ping, zen: 'new again' })).status).toBe(200);
    hook.secret = rotated.secret!;
  });

  it('stores a body without its top-level secret field', async () => {
    const body = { secret: 'gitea-put-me-here', zen: 'x', hook_id: 2, repository: { full_name: 'acme/ingest' } };
    const res = await sendGitHubHook(hook.hookUrl, hook.secret, 'ping', body);
    const { rows } = await forgeline.runtime.db.pool.query('SELECT body FROM deliveries WHERE id = $1', [res.body.delivery]);
    expect(rows[0].body.toString()).not.toContain('gitea-put-me-here');
    expect(JSON.parse(rows[0].body.toString()).secret).toBe('[redacted]');
  });

  it('lists deliveries newest first, page by page, and replays one past the duplicate rules', async () => {
    const page1 = await (await fetch(`${forgeline.url}/api/deliveries?repo=acme/ingest&limit=2`)).json() as any;
    expect(page1.items).toHaveLength(2);
    const page2 = await (await fetch(`${forgeline.url}/api/deliveries?repo=acme/ingest&limit=2&cursor=${page1.next}`)).json() as any;
    expect(page2.items).toHaveLength(2);
    const all = [...page1.items, ...page2.items];
    expect(new Set(all.map((d: any) => d.id)).size).toBe(4);
    const times = all.map((d: any) => Date.parse(d.receivedAt));
    expect([...times].sort((a, b) => b - a)).toEqual(times);

    const sha = await repo.commit({ '.forgeline/ci.yml': 'on: { push: {} }\nstages:\n  s:\n    steps: [{ run: "true" }]\n' });
    const sent = await sendGitHubHook(hook.hookUrl, hook.secret, 'push', push(sha));
    await waitFor(async () => ((await (await fetch(`${forgeline.url}/api/deliveries/${sent.body.delivery}`)).json() as any).runs[0]), 'the first run');
    const unauthorized = await fetch(`${forgeline.url}/api/deliveries/${sent.body.delivery}/replay`, { method: 'POST' });
    expect(unauthorized.status).toBe(401);
    const replay = await fetch(`${forgeline.url}/api/deliveries/${sent.body.delivery}/replay`, { method: 'POST', headers: { authorization: 'Bearer admin-token' } });
    expect(replay.status).toBe(201);
    const replayed = await replay.json() as { delivery: string; runs: number[] };
    expect(replayed.runs).toHaveLength(1);
    expect(await count('SELECT count(*)::int AS n FROM runs WHERE sha = $1', [sha])).toBe(2);
  });

  it('accepts a GitHub delivery sent as a form, its signature over the form bytes as sent', async () => {
    const sha = await repo.commit({ 'form.txt': 'form' });
    const form = new URLSearchParams({ payload: JSON.stringify({ ...push(sha), note: 'héllo a+b & c=d' }) }).toString();
    const headers = { 'content-type': 'application/x-www-form-urlencoded', 'x-github-event': 'push', 'x-github-delivery': 'form-1' };
    // Signed over the JSON inside, as Gitea would: no proof for GitHub.
    const json = new URLSearchParams(form).get('payload')!;
    expect((await fetch(hook.hookUrl, { method: 'POST', body: form, headers: { ...headers, 'x-hub-signature-256': signGitHub(hook.secret, json) } })).status).toBe(401);
    const res = await fetch(hook.hookUrl, { method: 'POST', body: form, headers: { ...headers, 'x-hub-signature-256': signGitHub(hook.secret, form) } });
    expect(res.status).toBe(202);
    const { delivery } = await res.json() as { delivery: string };
    const stored = await (await fetch(`${forgeline.url}/api/deliveries/${delivery}`, { headers: { authorization: 'Bearer admin-token' } })).json() as any;
    expect(stored.events).toMatchObject([{ kind: 'push', sha, repo: { name: 'acme/ingest' } }]);
  });

  it('stores a verified delivery it cannot act on as ignored, with the reason, for inspection', async () => {
    const body = JSON.stringify({ action: 'created', repository: { full_name: 'acme/ingest' }, starred_at: '2026-12-02T00:00:00Z' });
    const res = await fetch(hook.hookUrl, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-github-event': 'star', 'x-github-delivery': 'star-1', 'x-hub-signature-256': signGitHub(hook.secret, body) } });
    expect(res.status).toBe(200);
    const answer = await res.json() as { delivery: string; status: string; reason: string };
    expect(answer).toMatchObject({ status: 'ignored', reason: expect.stringContaining('star') });
    const stored = await (await fetch(`${forgeline.url}/api/deliveries/${answer.delivery}`, { headers: { authorization: 'Bearer admin-token' } })).json() as any;
    expect(stored).toMatchObject({ status: 'ignored', reason: answer.reason, repo: 'acme/ingest', events: [], headers: { 'x-github-event': 'star' } });
    expect((await deliveries.deliveryBody(forgeline.runtime.db.pool, answer.delivery))?.toString()).toBe(body);
  });

  it('redacts every proof and credential header docs/api.md lists before storing the headers', async () => {
    const sha = await repo.commit({ 'redact.txt': 'r' });
    const body = JSON.stringify(push(sha));
    const proofs = { 'x-hub-signature': 'sha1=0123', 'x-gitea-signature': 'ab12', 'x-forgejo-signature': 'cd34', 'webhook-signature': 'v1,AAAA', 'x-gitlab-token': 'glt-token', authorization: 'Bearer tok' };
    const res = await fetch(hook.hookUrl, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': 'redact-1', 'x-hub-signature-256': signGitHub(hook.secret, body), ...proofs } });
    expect(res.status).toBe(202);
    const { delivery } = await res.json() as { delivery: string };
    const stored = await (await fetch(`${forgeline.url}/api/deliveries/${delivery}`, { headers: { authorization: 'Bearer admin-token' } })).json() as any;
    for (const name of [...Object.keys(proofs), 'x-hub-signature-256']) expect(stored.headers[name], name).toBe('[redacted]');
    expect(stored.headers['x-github-event']).toBe('push');
  });

  it('never answers a 5xx or crashes on random bodies, headers and content types', async () => {
    await fc.assert(fc.asyncProperty(
      fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'text/plain', 'application/json; charset=utf-8', ''),
      fc.uint8Array({ maxLength: 512 }),
      fc.dictionary(fc.constantFrom('x-github-event', 'x-hub-signature-256', 'x-github-delivery', 'x-gitea-event', 'x-event-key'), fc.string({ maxLength: 80 }).filter((s) => !/[\r\n\0]/.test(s) && /^[\x20-\x7e]*$/.test(s))),
      fc.constantFrom(hook.hookUrl, `${forgeline.url}/hooks/github`, `${forgeline.url}/hooks/gitea`, `${forgeline.url}/hooks/random-id`),
      async (type, body, headers, url) => {
        const res = await fetch(url, { method: 'POST', headers: { ...headers, ...(type ? { 'content-type': type } : {}) }, body });
        await res.arrayBuffer();
        return res.status < 500;
      }), { numRuns: 150 });
    expect((await fetch(`${forgeline.url}/healthz`)).status).toBe(200);
  });
});

describe('ingest while the database is down', () => {
  let proxy: TcpProxy;
  let forgeline: TestForgeline;
  let hook: { hookUrl: string; secret: string };

  beforeAll(async () => {
    forgeline = await startForgeline({
      workers: 0,
      // A bootstrap token is checked without the database: what answers is the route itself.
      env: { FORGELINE_API_TOKEN: 'bootstrap-admin' },
      mapDatabaseUrl: async (url) => {
        const proxied = await startDatabaseProxy(url);
        proxy = proxied;
        return proxied.url;
      },
    });
    hook = await registerRepo(
      { pool: forgeline.runtime.db.pool, box: forgeline.runtime.deps.box, publicUrl: forgeline.url, urls: forgeline.config.urls },
      { forge: 'github', name: 'acme/down', cloneUrl: 'file:///nowhere.git', apiUrl: 'http://127.0.0.1:9/api/v3' }, 'test');
  });
  afterAll(async () => {
    await forgeline?.stop();
    await proxy?.close();
  });

  it('answers 503 and stores nothing while Postgres is unreachable, then recovers without a restart', async () => {
    const payload = pushPayload({ name: 'acme/down', cloneUrl: 'file:///nowhere.git' }, 'c'.repeat(40));
    await proxy.cut();
    forgeline.runtime.ingest.directory.forget();
    const down = await sendGitHubHook(hook.hookUrl, hook.secret, 'push', payload);
    expect(down.status).toBe(503);
    expect((await fetch(`${forgeline.url}/readyz`)).status).toBe(503);
    expect((await fetch(`${forgeline.url}/healthz`)).status).toBe(200);
    // Registering a repository meanwhile is not the caller's fault: 503, never 400.
    const register = await fetch(`${forgeline.url}/api/repos`, {
      method: 'POST', headers: { authorization: 'Bearer bootstrap-admin', 'content-type': 'application/json' },
      body: JSON.stringify({ forge: 'github', name: 'acme/later', cloneUrl: 'file:///nowhere.git', apiUrl: 'http://127.0.0.1:9/api/v3' }),
    });
    expect([register.status, await register.json()]).toEqual([503, { error: 'database unavailable: nothing was stored' }]);

    await proxy.restore();
    await waitFor(async () => ((await fetch(`${forgeline.url}/readyz`)).status === 200 ? true : undefined), 'readiness');
    const { rows } = await forgeline.runtime.db.pool.query('SELECT count(*)::int AS n FROM deliveries WHERE forge_delivery_id = $1', [down.deliveryId]);
    expect(rows[0].n).toBe(0);
    const up = await sendGitHubHook(hook.hookUrl, hook.secret, 'push', payload, down.deliveryId);
    expect(up.status).toBe(202);
  });

  it('answers 503 when the database goes away between the hook\'s lookup and the store, storing nothing', async () => {
    // The hook and its secrets are in the cache: only the store needs the database.
    const warm = await sendGitHubHook(hook.hookUrl, hook.secret, 'ping', { zen: 'warm', hook_id: 1, repository: { full_name: 'acme/down' } });
    expect(warm.status).toBe(200);
    const payload = pushPayload({ name: 'acme/down', cloneUrl: 'file:///nowhere.git' }, 'd'.repeat(40));
    await proxy.cut();
    const down = await sendGitHubHook(hook.hookUrl, hook.secret, 'push', payload);
    expect(down.status).toBe(503);
    expect(down.body).toEqual({ error: 'database unavailable: nothing was stored' });
    await proxy.restore();
    await waitFor(async () => ((await fetch(`${forgeline.url}/readyz`)).status === 200 ? true : undefined), 'readiness');
    const { rows } = await forgeline.runtime.db.pool.query('SELECT count(*)::int AS n FROM deliveries WHERE forge_delivery_id = $1', [down.deliveryId]);
    expect(rows[0].n).toBe(0);
    const metrics = await (await fetch(`${forgeline.url}/metrics`)).text();
    expect(metrics).toMatch(/forgeline_hook_requests_total\{forge="unknown",outcome="503"\} [1-9]/);
  });
});

describe('rate limit', () => {
  let forgeline: TestForgeline;
  let hook: { hookUrl: string; secret: string };
  const count = async (sql: string) => (await forgeline.runtime.db.pool.query(sql)).rows[0].n as number;

  beforeAll(async () => {
    forgeline = await startForgeline({ workers: 0, env: { FORGELINE_UNVERIFIED_PER_MINUTE: '4' } });
    hook = await registerRepo(
      { pool: forgeline.runtime.db.pool, box: forgeline.runtime.deps.box, publicUrl: forgeline.url, urls: forgeline.config.urls },
      { forge: 'github', name: 'acme/limited', cloneUrl: 'file:///nowhere.git', apiUrl: 'http://127.0.0.1:9/api/v3' }, 'test');
  });
  afterAll(() => forgeline?.stop());

  it('rate-limits unverified requests per address with Retry-After, never verified ones', async () => {
    const bad = () => fetch(hook.hookUrl, { method: 'POST', headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': 'sha256=00' }, body: '{}' });
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 6; i++) {
      const res = await bad();
      statuses.push(res.status);
      if (res.status === 429) retryAfter = res.headers.get('retry-after');
    }
    expect(statuses).toContain(429);
    expect(statuses.slice(0, 2)).toEqual([401, 401]);
    expect(Number(retryAfter)).toBeGreaterThan(0);
    const ping = { zen: 'verified', hook_id: 3, repository: { full_name: 'acme/limited' } };
    expect((await sendGitHubHook(hook.hookUrl, hook.secret, 'ping', ping)).status).toBe(200);
    const audited = await count(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'hook.refused.429' AND source_address IS NOT NULL`);
    expect(audited).toBeGreaterThan(0);
    const metrics = await (await fetch(`${forgeline.url}/metrics`)).text();
    expect(metrics).toMatch(/forgeline_hook_requests_total\{forge="github",outcome="429"\} \d+/);
  });

});
