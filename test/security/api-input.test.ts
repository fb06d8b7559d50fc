// Attacks on the API and UI's handling of what a caller sends: an open
// redirect after login, cursors and ids no page ever gave, a body of the wrong
// shape, and a forged X-Forwarded-Proto passed along by a trusted proxy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addToken } from '../../scheduler/index.ts';
import { registerRepo } from '../../ingest/index.ts';
import { signGitHub, pushPayload } from '../helpers/github-webhook.ts';
import { startForgeline, type TestForgeline } from '../helpers/forgeline.ts';

describe('what a caller sends, under attack', () => {
  let forgeline: TestForgeline;
  let token: string;

  beforeAll(async () => {
    forgeline = await startForgeline({ workers: 0, env: { FORGELINE_PUBLIC_READ: 'false', FORGELINE_REQUIRE_HTTPS: 'true', FORGELINE_TRUSTED_PROXIES: '127.0.0.1/32' } });
    token = (await addToken(forgeline.runtime.db.pool, 'viewer', 'read', 'test')).token;
  });
  afterAll(() => forgeline?.stop());

  it('sends a login only to a page of its own, whatever `next` says', async () => {
    const login = (next: string) => fetch(`${forgeline.url}/login`, {
      method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, next }).toString(),
    }).then((r) => r.headers.get('location'));
    for (const next of ['//evil.example', '/\\evil.example', '/\\/evil.example', '//evil.example/%2F..', 'https://evil.example/']) {
      const location = await login(next);
      expect(new URL(location!, forgeline.url).origin, next).toBe(forgeline.url);
      expect(location, next).toBe('/');
    }
    expect(await login('/runs/7?attempt=1#build')).toBe('/runs/7?attempt=1#build');
  });

  it('answers 400 to a cursor it never gave and 404 to an id no run can have, never 500', async () => {
    const get = (path: string) => fetch(`${forgeline.url}${path}`, { headers: { authorization: `Bearer ${token}` } }).then(async (r) => [r.status, (await r.json() as { error: string }).error]);
    for (const cursor of ['abc', '-1', '1e3', '99999999999999999999', '%00']) {
      expect(await get(`/api/runs?cursor=${cursor}`), cursor).toEqual([400, expect.stringContaining('is not one this API gave')]);
    }
    for (const cursor of ['Zm9v', 'bm90LWEtZGF0ZXxpZA']) expect(await get(`/api/deliveries?cursor=${cursor}`), cursor).toEqual([400, expect.stringContaining('is not one this API gave')]);
    for (const id of ['99999999999999999999', 'abc', '1.5']) {
      expect((await get(`/api/runs/${id}`))[0], id).toBe(404);
      expect((await get(`/api/runs/${id}/stages/build/log`))[0], id).toBe(404);
    }
    const repo = await registerRepo(
      { pool: forgeline.runtime.db.pool, box: forgeline.runtime.deps.box, publicUrl: forgeline.url, urls: forgeline.config.urls },
      { forge: 'github', name: 'acme/paged', cloneUrl: 'file:///nowhere.git', apiUrl: 'http://127.0.0.1:9' }, 'test');
    expect(repo.id).toBeTruthy();
    expect(await get('/api/repos/acme%2Fpaged/environments/prod/deployments?cursor=x1')).toEqual([400, expect.stringContaining('is not one this API gave')]);
  });

  it('refuses a repository whose name is not a string', async () => {
    const res = await fetch(`${forgeline.url}/api/repos`, {
      method: 'POST', headers: { authorization: `Bearer ${forgeline.clientEnv.FORGELINE_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ forge: 'github', name: ['acme', 'widget'] }),
    });
    expect([res.status, await res.json()]).toEqual([400, { error: '"name" must be a string' }]);
  });

  it('believes only the X-Forwarded-Proto hop its trusted proxy added, not one the client sent before it', async () => {
    const hook = await registerRepo(
      { pool: forgeline.runtime.db.pool, box: forgeline.runtime.deps.box, publicUrl: forgeline.url, urls: forgeline.config.urls },
      { forge: 'github', name: 'acme/proto', cloneUrl: 'file:///nowhere.git', apiUrl: 'http://127.0.0.1:9' }, 'test');
    const body = JSON.stringify(pushPayload({ name: 'acme/proto', cloneUrl: 'file:///nowhere.git' }, 'a'.repeat(40)));
    const send = (proto: string) => fetch(hook.hookUrl.replace('http://forgeline.test', forgeline.url), {
      method: 'POST', body,
      headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': signGitHub(hook.secret, body), 'x-forwarded-proto': proto },
    }).then(async (r) => [r.status, (await r.json() as { error?: string }).error]);
    // The client claims https; the proxy, which received plain http, appended what it saw.
    expect(await send('https, http')).toEqual([403, 'hooks are served over HTTPS only (FORGELINE_REQUIRE_HTTPS)']);
    expect((await send('http, https'))[0]).toBe(202);
  });
});
