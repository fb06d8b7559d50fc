// Attacks on the front door's secrets: a hook registered with an empty secret
// (an HMAC keyed with "" anyone can compute), a captured Gitea delivery
// replayed re-encoded as a form, and a generic source's proof stored in the clear.
import { createHmac, randomUUID } from 'node:crypto';
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addSource, registerRepo } from '../../ingest/index.ts';
import { fixtureText, manifest } from '../helpers/forge-fixtures.ts';
import { startForgeline, type TestForgeline } from '../helpers/forgeline.ts';

const bin = fileURLToPath(new URL('../../bin/forgeline.js', import.meta.url));
const hmac = (secret: string, body: string) => createHmac('sha256', secret).update(body).digest('hex');

describe('hook secrets under attack', () => {
  let forgeline: TestForgeline;
  const api = async (method: string, path: string, body: unknown) => {
    const res = await fetch(`${forgeline.url}/api${path}`, {
      method, headers: { authorization: `Bearer ${forgeline.clientEnv.FORGELINE_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() as { error?: string } };
  };

  beforeAll(async () => { forgeline = await startForgeline({ workers: 0 }); });
  afterAll(() => forgeline?.stop());

  it('refuses an empty secret for a repository, a rotation and a source, so no hook takes what "" signs', async () => {
    for (const secret of ['', '   ']) {
      const add = await api('POST', '/repos', { forge: 'github', name: 'acme/empty', cloneUrl: 'file:///nowhere.git', apiUrl: 'http://127.0.0.1:9', secret });
      expect(add).toEqual({ status: 400, body: { error: 'the webhook secret is empty: give a secret, or leave it out for a random one' } });
    }
    // Nothing was registered: a push signed with the empty key finds no hook to take it.
    const listed = await fetch(`${forgeline.url}/api/repos`).then((r) => r.json()) as { items: Array<{ name: string }> };
    expect(listed.items.map((r) => r.name)).not.toContain('acme/empty');

    await api('POST', '/repos', { forge: 'github', name: 'acme/rotated', cloneUrl: 'file:///nowhere.git', apiUrl: 'http://127.0.0.1:9' });
    expect(await api('POST', '/repos/acme%2Frotated/rotate-secret', { secret: '' })).toEqual({ status: 400, body: { error: 'the new webhook secret is empty: give a secret, or leave it out for a random one' } });
    expect(await api('POST', '/repos/acme%2Frotated/sources', { name: 'tickets', auth: 'hmac', secret: '' })).toEqual({ status: 400, body: { error: 'the source\'s secret is empty: give a secret, or leave it out for a random one' } });
  });

  it('will not serve a forge-wide hook whose secret is empty', async () => {
    const serve = await execa(process.execPath, [bin, 'serve', '--port', '0'], {
      env: { ...forgeline.env, FORGELINE_GITHUB_WEBHOOK_SECRET: 'good,' }, extendEnv: false, reject: false, timeout: 20_000,
    });
    expect([serve.exitCode, serve.stderr.trim()]).toEqual([1, 'forgeline: FORGELINE_GITHUB_WEBHOOK_SECRET holds an empty secret: give each secret (comma-separated), or unset it']);
  });

  it('knows a captured Gitea pull request re-sent as a form with a fresh delivery id: a duplicate, no second run', async () => {
    const secret = 'gitea-secret';
    const hook = await registerRepo(
      { pool: forgeline.runtime.db.pool, box: forgeline.runtime.deps.box, publicUrl: forgeline.url, urls: forgeline.config.urls },
      { forge: 'gitea', name: JSON.parse(fixtureText('gitea/pr-opened.json')).repository.full_name, cloneUrl: 'file:///nowhere.git', apiUrl: 'http://127.0.0.1:9', secret }, 'test');
    // A pull request: no (ref, sha) rule stands behind the body's, as a push's would.
    const json = fixtureText('gitea/pr-opened.json');
    const headers = manifest.find((m) => m.file === 'gitea/pr-opened.json')!.headers;
    const send = (body: string, type: string) => fetch(hook.hookUrl, {
      method: 'POST', body,
      // Gitea signs the JSON, also when it sends a form: the capture's signature fits both.
      headers: { ...headers, 'content-type': type, 'x-gitea-signature': hmac(secret, json), 'x-gitea-delivery': randomUUID() },
    }).then(async (r) => ({ status: r.status, body: await r.json() as { status: string } }));
    expect(await send(json, 'application/json')).toMatchObject({ status: 202, body: { status: 'accepted' } });
    expect(await send(new URLSearchParams({ payload: json }).toString(), 'application/x-www-form-urlencoded')).toMatchObject({ status: 200, body: { status: 'duplicate' } });
  });

  it('never stores or shows the proof of an hmac source, whatever header it travels in', async () => {
    const source = await addSource(forgeline.runtime.deps, { repo: 'acme/rotated', name: 'payments', auth: 'hmac', signatureHeader: 'X-Pay-Proof' }, 'test');
    const body = JSON.stringify({ id: 'evt_1', type: 'charge.succeeded' });
    const proof = `sha256=${hmac(source.secret!, body)}`;
    const res = await fetch(source.hookUrl.replace('http://forgeline.test', forgeline.url), { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-pay-proof': proof } });
    const { delivery } = await res.json() as { delivery: string };
    expect(res.status).toBe(202);
    const shown = await fetch(`${forgeline.url}/api/deliveries/${delivery}`).then((r) => r.json()) as { headers: Record<string, string> };
    expect(shown.headers['x-pay-proof']).toBe('[redacted]');
    const { rows } = await forgeline.runtime.db.pool.query('SELECT headers::text AS h FROM deliveries WHERE id = $1', [delivery]);
    expect(rows[0].h).not.toContain(proof.slice('sha256='.length));
  });
});
