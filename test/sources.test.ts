import { createHmac, randomUUID } from 'node:crypto';
import { execa } from 'execa';
import { mkdtemp, readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addToken } from '../scheduler/index.ts';
import { addSource, rotateSourceSecret } from '../ingest/index.ts';
import { startBench, type Bench } from './helpers/engine.ts';
import { startForgeline, waitFor, type TestForgeline } from './helpers/forgeline.ts';

const TRIAGE = `name: triage
on:
  webhook:
    sources: [helpdesk]
    types: ["support_ticket.*"]
if: payload.data.priority in ["high", "critical"]
stages:
  page:
    steps: [{ run: 'echo "paging for $FORGELINE_EVENT on $FORGELINE_BRANCH"' }]
`;

/** The article's example: a helpdesk's support_ticket.created. */
const ticket = (priority: string, id = `evt_${randomUUID()}`) => JSON.stringify({
  event_id: id, type: 'support_ticket.created', timestamp: new Date().toISOString(), data: { ticket_id: 4711, subject: 'Checkout is down', priority },
});

describe('generic webhook sources', () => {
  let b: Bench;
  const hooks: Record<string, { hookUrl: string; secret: string }> = {};

  beforeAll(async () => {
    b = await startBench('acme/support', { workers: 2 });
    await b.push({ '.forgeline/triage.yml': TRIAGE });
    const deps = { pool: b.forgeline.runtime.db.pool, box: b.forgeline.runtime.deps.box, publicUrl: b.forgeline.url };
    hooks.helpdesk = await addSource(deps, { repo: b.name, name: 'helpdesk', auth: 'hmac', signatureHeader: 'X-Helpdesk-Signature', typeFrom: '$.type', idFrom: '$.event_id' }, 'test');
    hooks.payments = await addSource(deps, { repo: b.name, name: 'payments', auth: 'standard-webhooks', typeFrom: '$.type' }, 'test');
    hooks.storage = await addSource(deps, { repo: b.name, name: 'storage', auth: 'bearer', typeFrom: 'X-Event-Type' }, 'test');
  });
  afterAll(() => b?.stop());

  const post = (url: string, body: string, headers: Record<string, string>) =>
    fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });

  it('starts a pipeline from a signed support_ticket.created, only for urgent tickets, once per event id', async () => {
    const sign = (body: string, secret = hooks.helpdesk!.secret) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
    const urgent = ticket('high', 'evt_1');
    const res = await post(hooks.helpdesk!.hookUrl, urgent, { 'x-helpdesk-signature': sign(urgent) });
    expect(res.status).toBe(202);
    const { delivery } = await res.json() as { delivery: string };
    const planned = await waitFor(async () => {
      const d = (await b.api(`/deliveries/${delivery}`)).body;
      return d.explain?.length ? d : undefined;
    }, 'planning');
    expect(planned.events[0]).toMatchObject({ kind: 'webhook', source: 'helpdesk', type: 'support_ticket.created', branch: 'main' });
    const run = await b.finished(planned.runs[0]);
    expect(run.status).toBe('success');
    expect(await b.log(run.id, 'page')).toContain('paging for webhook on main');
    await waitFor(async () => (b.github.statuses.some((s) => s.context === 'forgeline/triage/webhook' && s.state === 'success') ? true : undefined), 'the webhook status');

    // The same event again (a retry of the sender): a duplicate, even with another body.
    const again = await post(hooks.helpdesk!.hookUrl, urgent.replace('Checkout', 'Cart'), { 'x-helpdesk-signature': sign(urgent.replace('Checkout', 'Cart')) });
    expect((await again.json() as { status: string }).status).toBe('duplicate');
    const low = ticket('low');
    const lowRes = await post(hooks.helpdesk!.hookUrl, low, { 'x-helpdesk-signature': sign(low) });
    const lowDelivery = await waitFor(async () => {
      const d = (await b.api(`/deliveries/${(await lowRes.clone().json() as { delivery: string }).delivery}`)).body;
      return d.explain?.length ? d : undefined;
    }, 'planning');
    expect(lowDelivery.runs).toEqual([]);
    expect(lowDelivery.explain[0].pipelines[0].reason).toBe('if: payload.data.priority in ["high", "critical"] is false');
    expect((await post(hooks.helpdesk!.hookUrl, low, { 'x-helpdesk-signature': sign(low, 'wrong') })).status).toBe(401);
    // The bare hex form of the signature is accepted too.
    const other = ticket('low');
    expect((await post(hooks.helpdesk!.hookUrl, other, { 'x-helpdesk-signature': sign(other).slice(7) })).status).toBe(202);
  });

  it('manages sources through the API with the admin role', async () => {
    const { token } = await (await import('../scheduler/index.ts')).addToken(b.forgeline.runtime.db.pool, 'ops', 'admin', 'test');
    const created = await b.api(`/repos/${encodeURIComponent(b.name)}/sources`, { token, body: { name: 'orders', auth: 'bearer', typeFrom: '$.event' } });
    expect(created.status).toBe(201);
    expect(created.body.hookUrl).toMatch(/\/hooks\/[A-Za-z0-9_-]{32}$/);
    const listed = await b.api(`/repos/${encodeURIComponent(b.name)}/sources`);
    expect(listed.body.items.map((s: any) => s.name).sort()).toEqual(['helpdesk', 'orders', 'payments', 'storage']);
    expect(JSON.stringify(listed.body)).not.toContain(created.body.secret);
    expect((await b.api(`/repos/${encodeURIComponent(b.name)}/sources/orders`, { method: 'DELETE', token })).status).toBe(204);
    expect((await fetch(created.body.hookUrl.replace(b.forgeline.config.publicUrl, b.forgeline.url), { method: 'POST', body: '{}', headers: { 'content-type': 'application/json', authorization: `Bearer ${created.body.secret}` } })).status).toBe(404);
  });

  it('rotates a source\'s secret like a repository\'s, and replays a source delivery past the duplicate rules', async () => {
    const deps = { pool: b.forgeline.runtime.db.pool, box: b.forgeline.runtime.deps.box };
    const rotated = await rotateSourceSecret(deps, b.name, 'storage', { retireOld: false }, 'test');
    b.forgeline.runtime.ingest.directory.forget();
    const send = (secret: string) => fetch(hooks.storage!.hookUrl, { method: 'POST', body: JSON.stringify({ key: randomUUID() }), headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}`, 'x-event-type': 'object.created' } });
    expect((await send(hooks.storage!.secret)).status).toBe(202);
    expect((await send(rotated.secret!)).status).toBe(202);
    await rotateSourceSecret(deps, b.name, 'storage', { retireOld: true }, 'test');
    b.forgeline.runtime.ingest.directory.forget();
    expect((await send(hooks.storage!.secret)).status).toBe(401);
    hooks.storage!.secret = rotated.secret!;

    const sign = (body: string) => `sha256=${createHmac('sha256', hooks.helpdesk!.secret).update(body).digest('hex')}`;
    const urgent = ticket('critical');
    const first = await (await post(hooks.helpdesk!.hookUrl, urgent, { 'x-helpdesk-signature': sign(urgent) })).json() as { delivery: string };
    const planned = await waitFor(async () => ((await b.api(`/deliveries/${first.delivery}`)).body.runs?.[0]), 'the first run');
    await b.finished(planned);
    const { token } = await addToken(b.forgeline.runtime.db.pool, 'replayer', 'write', 'test');
    const replayed = await b.api(`/deliveries/${first.delivery}/replay`, { method: 'POST', token });
    expect(replayed.status).toBe(201);
    expect(replayed.body.runs).toHaveLength(1);
    expect((await b.finished(replayed.body.runs[0])).status).toBe('success');
  });

  it('verifies Standard Webhooks signatures within five minutes, and bearer tokens', async () => {
    const body = ticket('critical');
    const id = `msg_${randomUUID()}`;
    const key = Buffer.from(hooks.payments!.secret.slice('whsec_'.length), 'base64');
    const at = (seconds: number) => {
      const ts = String(Math.floor(Date.now() / 1000) + seconds);
      return { 'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': `v1,${createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64')}` };
    };
    expect((await post(hooks.payments!.hookUrl, body, at(-600))).status).toBe(401);
    expect((await post(hooks.payments!.hookUrl, body, at(0))).status).toBe(202);
    expect((await (await post(hooks.payments!.hookUrl, body, at(1))).json() as { status: string }).status).toBe('duplicate');

    expect((await post(hooks.storage!.hookUrl, '{"key":"in/report.csv"}', { authorization: 'Bearer nope', 'x-event-type': 'object.created' })).status).toBe(401);
    const ok = await post(hooks.storage!.hookUrl, '{"key":"in/report.csv"}', { authorization: `Bearer ${hooks.storage!.secret}`, 'x-event-type': 'object.created' });
    expect(ok.status).toBe(202);
  });
});

describe('transport security', () => {
  it('refuses hooks from addresses outside --allow-cidr, believing X-Forwarded-For only from trusted proxies', async () => {
    const b = await startBench('acme/cidr', { workers: 0, env: { FORGELINE_TRUSTED_PROXIES: '127.0.0.1/32' } });
    try {
      const deps = { pool: b.forgeline.runtime.db.pool, box: b.forgeline.runtime.deps.box, publicUrl: b.forgeline.url };
      const src = await addSource(deps, { repo: b.name, name: 'office', auth: 'bearer', allowCidrs: ['10.0.0.0/8'] }, 'test');
      // Bodies differ: the same body twice would be a duplicate.
      const send = (forwarded?: string) => fetch(src.hookUrl, { method: 'POST', body: JSON.stringify({ n: randomUUID() }), headers: { 'content-type': 'application/json', authorization: `Bearer ${src.secret}`, ...(forwarded ? { 'x-forwarded-for': forwarded } : {}) } });
      expect((await send()).status).toBe(403);
      expect((await send('10.1.2.3')).status).toBe(202);
      expect((await send('192.168.1.1, 10.1.2.3')).status).toBe(202);
      expect((await send('10.1.2.3, 192.168.1.1')).status).toBe(403);
      const { rows } = await b.forgeline.runtime.db.pool.query(`SELECT source_address, reason FROM audit_log WHERE action = 'hook.refused.403' ORDER BY id`);
      expect(rows[0]).toMatchObject({ source_address: '127.0.0.1', reason: 'source address 127.0.0.1 is not allowed on this hook' });
      expect(rows[1]).toMatchObject({ source_address: '192.168.1.1' });
    } finally {
      await b.stop();
    }
  });

  it('refuses plain-HTTP hooks with FORGELINE_REQUIRE_HTTPS, without redirecting', async () => {
    const forgeline = await startForgeline({ workers: 0, env: { FORGELINE_REQUIRE_HTTPS: 'true' } });
    try {
      const res = await fetch(`${forgeline.url}/hooks/anything`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' }, redirect: 'manual' });
      expect(res.status).toBe(403);
      expect(res.headers.get('location')).toBeNull();
    } finally {
      await forgeline.stop();
    }
  });

  it('serves HTTPS itself and requires a client certificate signed by the client CA on /hooks', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'forgeline-tls-'));
    const ssl = (...args: string[]) => execa('openssl', args, { cwd: dir });
    await ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=forgeline test CA');
    await ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
    await execa('bash', ['-c', "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost' > san.ext"], { cwd: dir });
    await ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'san.ext');
    await ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=forge');
    await ssl('x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.pem', '-days', '1');
    await ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'rogue.key', '-out', 'rogue.pem', '-days', '1', '-subj', '/CN=rogue');
    const forgeline = await startForgeline({
      workers: 0,
      env: { FORGELINE_TLS_CERT: path.join(dir, 'server.pem'), FORGELINE_TLS_KEY: path.join(dir, 'server.key'), FORGELINE_TLS_CLIENT_CA: path.join(dir, 'ca.pem') },
    });
    const url = new URL(forgeline.url);
    const call = (pathname: string, client?: 'client' | 'rogue') => new Promise<number>((resolve, reject) => {
      readFile(path.join(dir, 'ca.pem')).then(async (ca) => {
        const req = request({
          host: '127.0.0.1', port: url.port, path: pathname, method: pathname.startsWith('/hooks') ? 'POST' : 'GET', ca,
          headers: { 'content-type': 'application/json', ...(pathname.startsWith('/hooks') ? { 'content-length': '2' } : {}) },
          ...(client ? { cert: await readFile(path.join(dir, `${client}.pem`)), key: await readFile(path.join(dir, `${client}.key`)) } : {}),
        }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
        req.on('error', reject);
        req.end(pathname.startsWith('/hooks') ? '{}' : undefined);
      }, reject);
    });
    try {
      expect(await call('/healthz')).toBe(200);
      expect(await call('/hooks/unknown')).toBe(403);
      expect(await call('/hooks/unknown', 'rogue')).toBe(403);
      // Past the TLS gate: an unknown hook is then a plain 404.
      expect(await call('/hooks/unknown', 'client')).toBe(404);
    } finally {
      await forgeline.stop();
    }
  });
});
