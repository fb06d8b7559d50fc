import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bitbucket } from '../providers/bitbucket/index.ts';
import { PermanentReportError, type ForgeEvent, type StatusReport } from '../providers/types.ts';

const FIXTURES = new URL('./fixtures/webhooks/', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('manifest.json', FIXTURES), 'utf8')) as Array<{
  file: string; provider: string; headers: Record<string, string>; expect: Record<string, any>;
}>;
const EVENT_KEYS = ['forge', 'kind', 'action', 'repo', 'ref', 'branch', 'tag', 'sha', 'before', 'created', 'deleted', 'forced', 'message', 'pullRequest', 'sender', 'source', 'type'];

function fixture(file: string): any {
  return JSON.parse(readFileSync(new URL(file, FIXTURES), 'utf8'));
}

function lowerCase(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

function sign(secret: string, body: Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

function events(result: ReturnType<typeof bitbucket.parse.events>): ForgeEvent[] {
  if (result.outcome !== 'events') throw new Error(`expected events, got ${result.outcome}: ${JSON.stringify(result)}`);
  return result.events;
}

describe('Bitbucket Cloud headers', () => {
  it('takes the delivery id from X-Request-UUID', () => {
    expect(bitbucket.verify.deliveryId({ 'x-request-uuid': 'c1a2-uuid' })).toBe('c1a2-uuid');
    expect(bitbucket.verify.deliveryId({ 'x-request-id': 'dc-id' })).toBeNull();
  });

  it('authenticates git as x-token-auth and has no pull request refs', () => {
    const [setting] = bitbucket.credentials.gitAuthConfig({ name: 'acme/widget', apiUrl: bitbucket.credentials.defaultApiUrl, token: 'tok' });
    expect(setting).toBe(`http.extraHeader=Authorization: Basic ${Buffer.from('x-token-auth:tok').toString('base64')}`);
    expect(bitbucket.credentials.gitAuthConfig({ name: 'acme/widget', apiUrl: bitbucket.credentials.defaultApiUrl, token: null })).toEqual([]);
    expect(bitbucket.credentials.pullRequestRef(7)).toBeNull();
    expect(bitbucket.credentials.defaultApiUrl).toBe('https://api.bitbucket.org');
  });
});

describe('Bitbucket Cloud signatures', () => {
  const body = Buffer.from(readFileSync(new URL('bitbucket-cloud/tag-push.json', FIXTURES)));
  const secrets = ['old-secret', 'new-secret'];
  const good = sign('new-secret', body);

  it('accepts the HMAC of any active secret', () => {
    for (const s of secrets) expect(bitbucket.verify.proves({ 'x-hub-signature': sign(s, body) }, body, secrets)).toBe(true);
  });

  it('refuses a missing, foreign, uppercase, truncated or SHA-1 signature', () => {
    expect(bitbucket.verify.proves({}, body, secrets)).toBe(false);
    expect(bitbucket.verify.proves({ 'x-hub-signature': sign('other', body) }, body, secrets)).toBe(false);
    expect(bitbucket.verify.proves({ 'x-hub-signature': good.toUpperCase() }, body, secrets)).toBe(false);
    expect(bitbucket.verify.proves({ 'x-hub-signature': `sha256=${good.slice(7).toUpperCase()}` }, body, secrets)).toBe(false);
    expect(bitbucket.verify.proves({ 'x-hub-signature': good.slice(0, -2) }, body, secrets)).toBe(false);
    expect(bitbucket.verify.proves({ 'x-hub-signature': good.replace('sha256', 'sha1') }, body, secrets)).toBe(false);
    expect(bitbucket.verify.proves({ 'x-hub-signature': good.slice(7) }, body, secrets)).toBe(false);
    // GitHub's header name is not Bitbucket's.
    expect(bitbucket.verify.proves({ 'x-hub-signature-256': good }, body, secrets)).toBe(false);
    expect(bitbucket.verify.proves({ 'x-hub-signature': good }, body, [])).toBe(false);
  });

  it('refuses any single-byte change of the body', () => {
    fc.assert(fc.property(fc.nat(body.length - 1), fc.integer({ min: 1, max: 255 }), (index, delta) => {
      const changed = Buffer.from(body);
      changed[index] = (changed[index]! + delta) % 256;
      return bitbucket.verify.proves({ 'x-hub-signature': good }, changed, secrets) === false;
    }));
  });

  it('refuses any single-byte change of the signature', () => {
    fc.assert(fc.property(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 }), (index, delta) => {
      const changed = good.slice(0, index) + String.fromCharCode((good.charCodeAt(index) + delta) % 256) + good.slice(index + 1);
      return bitbucket.verify.proves({ 'x-hub-signature': changed }, body, secrets) === false;
    }));
  });
});

describe('Bitbucket Cloud payloads', () => {
  const fixtures = manifest.filter((f) => f.provider === 'bitbucket-cloud');

  it('has fixtures to check', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(11);
  });

  it.each(fixtures.map((f) => [f.file, f] as const))('%s parses to its expectation', (_file, entry) => {
    const payload = fixture(entry.file);
    const result = bitbucket.parse.events(lowerCase(entry.headers), payload);
    const want = entry.expect;
    if (want.kind === 'ignored' || want.kind === 'ping') {
      expect(result.outcome).toBe('ignored');
      if (result.outcome === 'ignored') expect(result.repoName).toBe(want.repo);
      return;
    }
    const all = events(result);
    const wanted: Array<Record<string, any>> = want.changes ?? [want];
    expect(all).toHaveLength(wanted.length);
    all.forEach((event, i) => {
      const change = { ...want, ...wanted[i] };
      expect(Object.keys(event).sort()).toEqual([...EVENT_KEYS].sort());
      expect(event.forge).toBe('bitbucket');
      expect(event.kind).toBe(change.kind);
      expect(event.repo.name).toBe(change.repo);
      expect(event.repo.cloneUrl).toBe(`https://bitbucket.org/${change.repo}.git`);
      for (const key of ['ref', 'branch', 'tag', 'sha', 'before', 'deleted', 'created', 'forced'] as const) {
        if (key in change) expect(event[key], key).toBe(change[key]);
      }
      if (change.requires_state) {
        // The payload cannot tell new commits from an edit: the planner decides from the last head seen.
        expect(event.action).toBe('synchronize');
        expect(result).toMatchObject({ actionFromHead: true });
      } else if ('action' in change) {
        expect(event.action).toBe(change.action);
        expect(result).not.toHaveProperty('actionFromHead');
      }
      if (change.pr) {
        const { merged, ...pr } = change.pr;
        expect(event.pullRequest).toMatchObject(pr);
        expect(event.action === 'merged').toBe(merged);
        expect(event.pullRequest!.labels).toEqual([]);
      } else {
        expect(event.pullRequest).toBeNull();
      }
    });
  });

  it('keeps the 12-character pull request ids as sent and fills the rest of the pull request', () => {
    const [event] = events(bitbucket.parse.events({ 'x-event-key': 'pullrequest:created' }, fixture('bitbucket-cloud/pr-created.json')));
    expect(event).toMatchObject({
      kind: 'pull_request', action: 'opened', sha: '39f188d78e1e', ref: null, before: null, message: 'aha', sender: '6543',
      pullRequest: { number: 2, title: 'aha', draft: false, headRepo: '6543/collect-webhooks', mergeSha: null },
    });
  });

  it('reads the draft flag', () => {
    const [event] = events(bitbucket.parse.events({ 'x-event-key': 'pullrequest:updated' }, fixture('bitbucket-cloud/pr-updated-to-draft.json')));
    expect(event!.pullRequest!.draft).toBe(true);
  });

  it('takes the message of the new head and the actor\'s nickname', () => {
    const [event] = events(bitbucket.parse.events({ 'x-event-key': 'repo:push' }, fixture('bitbucket-cloud/push.json')));
    expect(event).toMatchObject({ message: 'a\n', sender: 'Martin Herren', tag: null });
  });

  it('makes one event per change of a push, in order', () => {
    const payload = fixture('bitbucket-cloud/push.json');
    const tag = fixture('bitbucket-cloud/tag-push.json').push.changes[0];
    payload.push.changes.push(tag);
    const all = events(bitbucket.parse.events({ 'x-event-key': 'repo:push' }, payload));
    expect(all.map((e) => [e.kind, e.ref, e.created])).toEqual([['push', 'refs/heads/main', false], ['tag', 'refs/tags/a', true]]);
  });

  it('ignores a push with no changes (a tag made in the web UI)', () => {
    const payload = fixture('bitbucket-cloud/push.json');
    payload.push.changes = [];
    expect(bitbucket.parse.events({ 'x-event-key': 'repo:push' }, payload)).toMatchObject({ outcome: 'ignored', repoName: 'martinherren1984/publictestrepo' });
  });

  it('marks a pull request from a fork, or from an unknown repository, as fromFork', () => {
    const payload = fixture('bitbucket-cloud/pr-created.json');
    payload.pullrequest.source.repository.full_name = 'someone/collect-webhooks';
    expect(events(bitbucket.parse.events({ 'x-event-key': 'pullrequest:created' }, payload))[0]!.pullRequest)
      .toMatchObject({ fromFork: true, headRepo: 'someone/collect-webhooks' });
    delete payload.pullrequest.source.repository;
    expect(events(bitbucket.parse.events({ 'x-event-key': 'pullrequest:created' }, payload))[0]!.pullRequest)
      .toMatchObject({ fromFork: true, headRepo: null });
  });

  it('falls back to bitbucket.org for the clone URL and to display_name for the sender', () => {
    const payload = fixture('bitbucket-cloud/pr-declined.json');
    delete payload.repository.links;
    delete payload.actor.nickname;
    const [event] = events(bitbucket.parse.events({ 'x-event-key': 'pullrequest:rejected' }, payload));
    expect(event).toMatchObject({ repo: { name: 'anbraten/test-2', cloneUrl: 'https://bitbucket.org/anbraten/test-2.git' }, sender: 'Anbraten' });
  });

  it.each(['pullrequest:approved', 'pullrequest:unapproved', 'pullrequest:changes_request_created', 'pullrequest:comment_created',
    'repo:commit_status_created', 'repo:commit_status_updated', 'repo:fork', 'issue:created', 'constructor', ''])(
    'ignores %s with a reason', (key) => {
      const result = bitbucket.parse.events({ 'x-event-key': key }, fixture('bitbucket-cloud/pr-approved.json'));
      expect(result.outcome).toBe('ignored');
      if (result.outcome === 'ignored') expect(result.reason).toMatch(/not acted on/);
    },
  );

  it('never throws on a payload of the wrong shape', () => {
    fc.assert(fc.property(fc.constantFrom('repo:push', 'pullrequest:created', 'pullrequest:updated', 'pullrequest:fulfilled', 'pullrequest:rejected'),
      fc.jsonValue(), (key, payload) => {
        const result = bitbucket.parse.events({ 'x-event-key': key }, payload);
        return result.outcome !== 'events' || result.events.length > 0;
      }));
  });
});

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: any;
}

describe('Bitbucket Cloud statuses', () => {
  const received: Received[] = [];
  let answer = { status: 201, body: '{}' };
  let apiUrl = '';
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(answer.body);
    });
  });
  const sha = 'c14c1bb05dfb1fdcdf06b31485fff61b0ea44277';
  const repo = () => ({ name: 'acme/widget', apiUrl, token: 'tok-123' });
  const report = (over: Partial<StatusReport> = {}): StatusReport => ({
    context: 'forgeline/ci/push', state: 'running', description: 'running', targetUrl: 'https://ci.example/runs/9', ...over,
  });

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    received.length = 0;
    answer = { status: 201, body: '{}' };
  });

  it('POSTs the build status with a Bearer token', async () => {
    await bitbucket.statuses.post(repo(), sha, report({ branch: 'feature/login' }));
    expect(received).toHaveLength(1);
    const [req] = received as [Received];
    expect(req.method).toBe('POST');
    expect(req.url).toBe(`/2.0/repositories/acme/widget/commit/${sha}/statuses/build`);
    expect(req.headers.authorization).toBe('Bearer tok-123');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.body).toEqual({
      key: 'forgeline/ci/push', state: 'INPROGRESS', name: 'forgeline/ci/push', description: 'running',
      url: 'https://ci.example/runs/9', refname: 'feature/login',
    });
  });

  it('leaves refname out without a branch, and a trailing slash of the API URL does not matter', async () => {
    await bitbucket.statuses.post({ ...repo(), apiUrl: `${apiUrl}/` }, sha, report({ branch: null }));
    expect(received[0]!.url).toBe(`/2.0/repositories/acme/widget/commit/${sha}/statuses/build`);
    expect(received[0]!.body).not.toHaveProperty('refname');
  });

  it('maps every state (docs/forges.md, "Statuses on the forge")', async () => {
    const states = { queued: 'INPROGRESS', waiting: 'INPROGRESS', running: 'INPROGRESS', success: 'SUCCESSFUL', failure: 'FAILED', canceled: 'STOPPED', skipped: 'SUCCESSFUL' } as const;
    for (const [state, expected] of Object.entries(states)) {
      received.length = 0;
      await bitbucket.statuses.post(repo(), sha, report({ state: state as StatusReport['state'], description: state === 'skipped' ? 'skipped: only on main' : state }));
      expect(received[0]!.body.state, state).toBe(expected);
    }
    expect(received[0]!.body.description).toBe('skipped: only on main');
    received.length = 0;
    await bitbucket.statuses.post(repo(), sha, report({ state: 'skipped', description: 'condition not met' }));
    expect(received[0]!.body.description).toBe('skipped: condition not met');
  });

  it('hashes a context longer than 40 characters into the key and keeps it as the name', async () => {
    const long = 'forgeline/a-rather-long-pipeline-name/pr/integration-tests';
    const other = `${long}-2`;
    await bitbucket.statuses.post(repo(), sha, report({ context: long }));
    await bitbucket.statuses.post(repo(), sha, report({ context: long, state: 'success' }));
    await bitbucket.statuses.post(repo(), sha, report({ context: other }));
    const [first, again, third] = received.map((r) => r.body) as [any, any, any];
    expect(first.key.length).toBeLessThanOrEqual(40);
    expect(first.key).not.toBe(long);
    expect(first.name).toBe(long);
    expect(again.key).toBe(first.key);
    expect(third.key).not.toBe(first.key);
    expect(third.key.length).toBeLessThanOrEqual(40);
  });

  it('keeps a context of exactly 40 characters as the key', async () => {
    const exact = 'forgeline/pipeline/push/'.padEnd(40, 'x');
    await bitbucket.statuses.post(repo(), sha, report({ context: exact }));
    expect(received[0]!.body).toMatchObject({ key: exact, name: exact });
  });

  it('sends no Authorization header without a token', async () => {
    await bitbucket.statuses.post({ ...repo(), token: null }, sha, report());
    expect(received[0]!.headers.authorization).toBeUndefined();
  });

  it('throws PermanentReportError, with the forge\'s message, on a permanent 4xx', async () => {
    answer = { status: 400, body: JSON.stringify({ type: 'error', error: { message: 'key: Ensure this value has at most 40 characters' } }) };
    const err = await bitbucket.statuses.post(repo(), sha, report()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentReportError);
    expect(err).toMatchObject({ status: 400, message: expect.stringContaining('at most 40 characters') });
  });

  it.each([429, 500, 503])('throws a retryable error carrying the status on %i', async (status) => {
    answer = { status, body: 'busy' };
    const err = await bitbucket.statuses.post(repo(), sha, report()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(PermanentReportError);
    expect(err).toMatchObject({ status });
  });
});
