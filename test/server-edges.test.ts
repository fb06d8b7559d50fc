import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfig } from '../cli/config.ts';
import { registerRepo } from '../ingest/index.ts';
import { startForgeline, type TestForgeline } from './helpers/forgeline.ts';
import { signGitHub } from './helpers/github-webhook.ts';

describe('hook answers', () => {
  let forgeline: TestForgeline;
  let hookUrl: string;
  let secret: string;

  beforeAll(async () => {
    forgeline = await startForgeline({ workers: 0, env: { FORGELINE_BODY_LIMIT_BYTES: '1024' } });
    const r = await registerRepo(
      { pool: forgeline.runtime.db.pool, box: forgeline.runtime.deps.box, publicUrl: forgeline.url, urls: forgeline.config.urls },
      { forge: 'github', name: 'acme/edges', cloneUrl: 'file:///nowhere.git', apiUrl: 'http://127.0.0.1:1/api/v3' }, 'test');
    hookUrl = r.hookUrl;
    secret = r.secret;
  });
  afterAll(() => forgeline?.stop());

  const post = (url: string, body: string, headers: Record<string, string>) => fetch(url, { method: 'POST', body, headers });

  it('404 for an unknown hook', async () => {
    expect((await post(`${forgeline.url}/hooks/nope`, '{}', { 'content-type': 'application/json' })).status).toBe(404);
  });

  it('405 with Allow: POST for other methods', async () => {
    const res = await fetch(hookUrl, { method: 'PUT', body: '{}' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });

  it('415 for a content type other than JSON or form', async () => {
    expect((await post(hookUrl, '{}', { 'content-type': 'text/plain' })).status).toBe(415);
  });

  it('413 past the body limit, 25 MiB unless FORGELINE_BODY_LIMIT_BYTES says otherwise', async () => {
    expect(readConfig({}).bodyLimitBytes).toBe(25 * 1024 * 1024);
    expect(forgeline.config.bodyLimitBytes).toBe(1024);
    const body = JSON.stringify({ pad: 'x'.repeat(2000) });
    expect((await post(hookUrl, body, { 'content-type': 'application/json', 'x-hub-signature-256': signGitHub(secret, body) })).status).toBe(413);
  });

  it('400 for a verified body that is not JSON', async () => {
    const body = 'not json';
    const res = await post(hookUrl, body, { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': signGitHub(secret, body) });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'body is not JSON' });
    const cut = '{"ref": "refs/heads/main", x}';
    const at = await post(hookUrl, cut, { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': signGitHub(secret, cut) });
    expect(await at.json()).toEqual({ error: `body is not JSON (at character ${cut.indexOf('x')})` });
  });

  it('200 ignored for a ping, stored with its headers redacted', async () => {
    const body = JSON.stringify({ zen: 'Design for failure.', hook_id: 1, repository: { full_name: 'acme/edges' } });
    const res = await post(hookUrl, body, { 'content-type': 'application/json', 'x-github-event': 'ping', 'x-github-delivery': 'ping-1', 'x-hub-signature-256': signGitHub(secret, body) });
    expect(res.status).toBe(200);
    const answer = await res.json() as { delivery: string; status: string };
    expect(answer.status).toBe('ignored');
    const delivery = await (await fetch(`${forgeline.url}/api/deliveries/${answer.delivery}`)).json() as any;
    expect(delivery).toMatchObject({ status: 'ignored', repo: 'acme/edges', forge: 'github', runs: [] });
    expect(delivery.headers['x-hub-signature-256']).toBe('[redacted]');
    expect(JSON.stringify(delivery)).not.toContain(signGitHub(secret, body));
  });

  it('403 when a repository hook receives another repository\'s payload', async () => {
    const body = JSON.stringify({ ref: 'refs/heads/main', after: 'a'.repeat(40), before: '0'.repeat(40), repository: { full_name: 'evil/other' }, head_commit: { id: 'a'.repeat(40) } });
    const res = await post(hookUrl, body, { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': signGitHub(secret, body) });
    expect(res.status).toBe(403);
  });

  it('403 when a repository hook receives a ping or an ignored event naming another repository', async () => {
    const body = JSON.stringify({ zen: 'Keep it logically awesome.', hook_id: 2, repository: { full_name: 'evil/other' } });
    const res = await post(hookUrl, body, { 'content-type': 'application/json', 'x-github-event': 'ping', 'x-hub-signature-256': signGitHub(secret, body) });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ error: 'payload names repository evil/other; this hook belongs to acme/edges' });
  });

  it('audits and counts every refusal above, with its reason and never the body or a proof', async () => {
    const { rows } = await forgeline.runtime.db.pool.query<{ action: string; reason: string; hook: string }>('SELECT action, reason, hook FROM audit_log ORDER BY id');
    const actions = new Set(rows.map((r) => r.action));
    for (const status of [400, 403, 404, 405, 413, 415]) expect(actions, `hook.refused.${status}`).toContain(`hook.refused.${status}`);
    expect(rows.find((r) => r.action === 'hook.refused.405')?.reason).toBe('method PUT is not allowed: hooks take POST');
    expect(rows.find((r) => r.action === 'hook.refused.413')?.reason).toBe('body over the limit of 1024 bytes');
    expect(JSON.stringify(rows)).not.toMatch(/xxxxxxxx|not json|refs\/heads|sha256=|Design for failure/);
    expect(JSON.stringify(rows)).not.toContain(secret);
    const metrics = await (await fetch(`${forgeline.url}/metrics`)).text();
    for (const status of [400, 403, 404, 405, 413, 415]) expect(metrics).toMatch(new RegExp(`forgeline_hook_requests_total\\{forge="[a-z-]+",outcome="${status}"\\} [1-9]`));
  });

  it('healthz and readyz', async () => {
    expect((await fetch(`${forgeline.url}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${forgeline.url}/readyz`)).json()).toEqual({ status: 'ready' });
  });

  it('serves the pipeline schema', async () => {
    const schema = await (await fetch(`${forgeline.url}/pipeline.schema.json`)).json() as { $schema: string };
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
  });
});
