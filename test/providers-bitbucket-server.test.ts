import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bitbucketServer } from '../providers/bitbucket-server/index.ts';
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

function events(result: ReturnType<typeof bitbucketServer.parse.events>): ForgeEvent[] {
  if (result.outcome !== 'events') throw new Error(`expected events, got ${result.outcome}: ${JSON.stringify(result)}`);
  return result.events;
}

function parse(key: string, payload: unknown) {
  return bitbucketServer.parse.events({ 'x-event-key': key }, payload);
}

describe('Bitbucket Data Center headers', () => {
  it('takes the delivery id from X-Request-Id', () => {
    expect(bitbucketServer.verify.deliveryId({ 'x-request-id': 'dc-id' })).toBe('dc-id');
    expect(bitbucketServer.verify.deliveryId({ 'x-request-uuid': 'cloud-id' })).toBeNull();
  });

  it('has no default API URL (every instance is self-hosted)', () => {
    expect(bitbucketServer.credentials.defaultApiUrl).toBe('');
  });

  it('authenticates git with a Bearer header and fetches pull requests from refs/pull-requests/N/from', () => {
    expect(bitbucketServer.credentials.gitAuthConfig({ name: 'DEV/app', apiUrl: 'https://bb.example', token: 'tok' }))
      .toEqual(['http.extraHeader=Authorization: Bearer tok']);
    expect(bitbucketServer.credentials.gitAuthConfig({ name: 'DEV/app', apiUrl: 'https://bb.example', token: null })).toEqual([]);
    expect(bitbucketServer.credentials.pullRequestRef(12)).toBe('refs/pull-requests/12/from');
  });
});

describe('Bitbucket Data Center signatures', () => {
  const body = Buffer.from(readFileSync(new URL('bitbucket-server/branch-delete.json', FIXTURES)));
  const secrets = ['old-secret', 'new-secret'];
  const good = sign('new-secret', body);

  it('accepts the HMAC of any active secret', () => {
    for (const s of secrets) expect(bitbucketServer.verify.proves({ 'x-hub-signature': sign(s, body) }, body, secrets)).toBe(true);
  });

  it('refuses a missing, foreign, uppercase, truncated or SHA-1 signature', () => {
    expect(bitbucketServer.verify.proves({}, body, secrets)).toBe(false);
    expect(bitbucketServer.verify.proves({ 'x-hub-signature': sign('other', body) }, body, secrets)).toBe(false);
    expect(bitbucketServer.verify.proves({ 'x-hub-signature': good.toUpperCase() }, body, secrets)).toBe(false);
    expect(bitbucketServer.verify.proves({ 'x-hub-signature': `sha256=${good.slice(7).toUpperCase()}` }, body, secrets)).toBe(false);
    expect(bitbucketServer.verify.proves({ 'x-hub-signature': good.slice(0, -2) }, body, secrets)).toBe(false);
    expect(bitbucketServer.verify.proves({ 'x-hub-signature': good.replace('sha256', 'sha1') }, body, secrets)).toBe(false);
    expect(bitbucketServer.verify.proves({ 'x-hub-signature': good.slice(7) }, body, secrets)).toBe(false);
    expect(bitbucketServer.verify.proves({ 'x-hub-signature': good }, body, [])).toBe(false);
  });

  it('refuses any single-byte change of the body', () => {
    fc.assert(fc.property(fc.nat(body.length - 1), fc.integer({ min: 1, max: 255 }), (index, delta) => {
      const changed = Buffer.from(body);
      changed[index] = (changed[index]! + delta) % 256;
      return bitbucketServer.verify.proves({ 'x-hub-signature': good }, changed, secrets) === false;
    }));
  });

  it('refuses any single-byte change of the signature', () => {
    fc.assert(fc.property(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 }), (index, delta) => {
      const changed = good.slice(0, index) + String.fromCharCode((good.charCodeAt(index) + delta) % 256) + good.slice(index + 1);
      return bitbucketServer.verify.proves({ 'x-hub-signature': changed }, body, secrets) === false;
    }));
  });
});

describe('Bitbucket Data Center payloads', () => {
  const fixtures = manifest.filter((f) => f.provider === 'bitbucket-server');

  it('has fixtures to check', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(8);
  });

  it.each(fixtures.map((f) => [f.file, f] as const))('%s parses to its expectation', (_file, entry) => {
    const result = bitbucketServer.parse.events(lowerCase(entry.headers), fixture(entry.file));
    const want = entry.expect;
    if (want.kind === 'ignored' || want.kind === 'ping') {
      expect(result.outcome).toBe('ignored');
      return;
    }
    const all = events(result);
    expect(result).not.toHaveProperty('actionFromHead');
    const wanted: Array<Record<string, any>> = want.changes ?? [want];
    expect(all).toHaveLength(wanted.length);
    all.forEach((event, i) => {
      const change = { ...want, ...wanted[i] };
      expect(Object.keys(event).sort()).toEqual([...EVENT_KEYS].sort());
      expect(event.forge).toBe('bitbucket-server');
      expect(event.kind).toBe(change.kind);
      expect(event.repo.name).toBe(change.repo);
      for (const key of ['ref', 'branch', 'tag', 'sha', 'before', 'deleted', 'created', 'forced', 'action'] as const) {
        if (key in change) expect(event[key], key).toBe(change[key]);
      }
      if (change.pr) {
        const { merged, ...pr } = change.pr;
        expect(event.pullRequest).toMatchObject(pr);
        expect(event.action === 'merged').toBe(merged);
        expect(event.pullRequest!.labels).toEqual([]);
      } else {
        expect(event.pullRequest).toBeNull();
        // Data Center has no force flag.
        expect(event.forced).toBe(false);
      }
    });
  });

  it('takes the HTTP clone URL and the actor\'s name', () => {
    const [event] = events(parse('repo:refs_changed', fixture('bitbucket-server/push.json')));
    expect(event).toMatchObject({
      repo: { name: 'DEV/deployment-automation', cloneUrl: 'https://bitbucket.example.com/scm/dev/deployment-automation.git' },
      sender: 'renovatebot', created: false, forced: false, message: 'chore(deps): update all',
    });
    const [old] = events(parse('repo:refs_changed', fixture('bitbucket-server/push-multiple-branches.json')));
    expect(old).toMatchObject({ repo: { cloneUrl: 'http://139.59.64.214:7990/scm/sbox/sandbox.git' }, sender: 'hypro999', message: null });
  });

  it('marks an added ref as created with no before', () => {
    const payload = fixture('bitbucket-server/branch-delete.json');
    payload.changes[0] = { ...payload.changes[0], type: 'ADD', fromHash: '0'.repeat(40), toHash: 'c7fccd35e163571148c42a3e8b11aef6661d19b8' };
    const [event] = events(parse('repo:refs_changed', payload));
    expect(event).toMatchObject({ kind: 'push', created: true, deleted: false, before: null, sha: 'c7fccd35e163571148c42a3e8b11aef6661d19b8' });
  });

  it('takes the commit an annotated tag points at from toCommit, not the tag object of toHash', () => {
    const payload = fixture('bitbucket-server/push.json');
    const commit = payload.toCommit.id;
    const tagObject = '9f1c0e8a6b2d4c3e5f7a9b1d3c5e7f9a1b3d5c7e';
    payload.changes = [{ ref: { id: 'refs/tags/v1.0', displayId: 'v1.0', type: 'TAG' }, refId: 'refs/tags/v1.0', fromHash: '0'.repeat(40), toHash: tagObject, type: 'ADD' }];
    expect(events(parse('repo:refs_changed', payload))[0]).toMatchObject({ kind: 'tag', tag: 'v1.0', sha: commit, created: true, message: 'chore(deps): update all' });
    // Without toCommit (older versions), or with two changes (whose would it be?), toHash stays: planning peels it.
    delete payload.toCommit;
    expect(events(parse('repo:refs_changed', payload))[0]!.sha).toBe(tagObject);
    const two = fixture('bitbucket-server/push.json');
    two.changes = [payload.changes[0], { ...payload.changes[0], ref: { id: 'refs/tags/v1.1', displayId: 'v1.1', type: 'TAG' }, refId: 'refs/tags/v1.1' }];
    expect(events(parse('repo:refs_changed', two)).map((e) => e.sha)).toEqual([tagObject, tagObject]);
  });

  it('has no clone URL when the repository offers only SSH', () => {
    const payload = fixture('bitbucket-server/push-multiple-branches.json');
    payload.repository.links.clone = payload.repository.links.clone.filter((l: any) => l.name !== 'http');
    expect(events(parse('repo:refs_changed', payload)).map((e) => e.repo.cloneUrl)).toEqual([null, null]);
  });

  it('names the fork\'s repository and the target\'s clone URL for a pull request from a fork', () => {
    const [event] = events(parse('pr:opened', fixture('bitbucket-server/pr-opened-from-fork.json')));
    expect(event).toMatchObject({
      repo: { name: 'DEV/deployment-automation', cloneUrl: 'https://bitbucket.example.com/scm/dev/deployment-automation.git' },
      message: 'testing PROJ-4600', sender: 'john.doe@example.com', before: null,
      pullRequest: { number: 114, title: 'testing PROJ-4600', draft: false, fromFork: true, mergeSha: null },
    });
  });

  it('reads new commits from pr:from_ref_updated, with the previous head as before', () => {
    const payload = fixture('bitbucket-server/pr-opened.json');
    payload.eventKey = 'pr:from_ref_updated';
    payload.previousFromHash = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
    const result = parse('pr:from_ref_updated', payload);
    expect(result).not.toHaveProperty('actionFromHead');
    expect(events(result)[0]).toMatchObject({
      action: 'synchronize', sha: '1c7589876bc8b5e83122b1656925d679915193d4', before: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', branch: 'PROJ-4596',
    });
  });

  it.each(['pr:declined', 'pr:deleted'])('reads %s as closed on the head branch', (key) => {
    const [event] = events(parse(key, fixture('bitbucket-server/pr-opened.json')));
    expect(event).toMatchObject({ action: 'closed', branch: 'PROJ-4596', sha: '1c7589876bc8b5e83122b1656925d679915193d4' });
  });

  it('answers the test connection ping as ignored with reason ping', () => {
    expect(parse('diagnostics:ping', { test: true })).toEqual({ outcome: 'ignored', reason: 'ping', repoName: null });
  });

  it.each(['pr:reviewer:approved', 'pr:reviewer:unapproved', 'pr:reviewer:needs_work', 'pr:reviewer:updated', 'pr:comment:added',
    'pr:comment:edited', 'pr:comment:deleted', 'pr:to_ref_updated', 'repo:modified', 'repo:forked', 'mirror:repo_synchronized', 'constructor', ''])(
    'ignores %s with a reason', (key) => {
      const result = parse(key, fixture('bitbucket-server/pr-opened.json'));
      expect(result).toMatchObject({ outcome: 'ignored', reason: expect.stringMatching(/not acted on/), repoName: 'DEV/network-monitor' });
    },
  );

  it('never throws on a payload of the wrong shape', () => {
    fc.assert(fc.property(fc.constantFrom('repo:refs_changed', 'pr:opened', 'pr:from_ref_updated', 'pr:modified', 'pr:merged', 'pr:declined', 'diagnostics:ping'),
      fc.jsonValue(), (key, payload) => {
        const result = parse(key, payload);
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

describe('Bitbucket Data Center statuses', () => {
  const received: Received[] = [];
  let answer = { status: 204, body: '' };
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
  const sha = '76797d54bca87db6d1e3e82ee40622c7908aa514';
  const repo = () => ({ name: '~JOHN.DOE/deployment-automation', apiUrl: `${apiUrl}/bitbucket`, token: 'tok-dc' });
  const report = (over: Partial<StatusReport> = {}): StatusReport => ({
    context: 'forgeline/ci/pr/test', state: 'success', description: 'succeeded in 3s', targetUrl: 'https://ci.example/runs/4#test', ...over,
  });

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    received.length = 0;
    answer = { status: 204, body: '' };
  });

  it('POSTs the build status under the instance\'s context path with a Bearer token', async () => {
    await bitbucketServer.statuses.post(repo(), sha, report({ branch: 'feature/login' }));
    expect(received).toHaveLength(1);
    const [req] = received as [Received];
    expect(req.method).toBe('POST');
    expect(req.url).toBe(`/bitbucket/rest/api/latest/projects/~JOHN.DOE/repos/deployment-automation/commits/${sha}/builds`);
    expect(req.headers.authorization).toBe('Bearer tok-dc');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.body).toEqual({
      key: 'forgeline/ci/pr/test', state: 'SUCCESSFUL', url: 'https://ci.example/runs/4#test', name: 'forgeline/ci/pr/test',
      description: 'succeeded in 3s', ref: 'refs/heads/feature/login',
    });
  });

  it('leaves ref out without a branch, and keeps a long context as the key', async () => {
    const long = 'forgeline/a-rather-long-pipeline-name/pr/integration-tests';
    await bitbucketServer.statuses.post(repo(), sha, report({ context: long, branch: null }));
    expect(received[0]!.body).not.toHaveProperty('ref');
    expect(received[0]!.body).toMatchObject({ key: long, name: long });
  });

  it('maps every state (docs/forges.md, "Statuses on the forge")', async () => {
    const states = { queued: 'INPROGRESS', waiting: 'INPROGRESS', running: 'INPROGRESS', success: 'SUCCESSFUL', failure: 'FAILED', canceled: 'CANCELLED', skipped: 'SUCCESSFUL' } as const;
    for (const [state, expected] of Object.entries(states)) {
      received.length = 0;
      await bitbucketServer.statuses.post(repo(), sha, report({ state: state as StatusReport['state'], description: state === 'skipped' ? 'skipped: only on main' : state }));
      expect(received[0]!.body.state, state).toBe(expected);
    }
    expect(received[0]!.body.description).toBe('skipped: only on main');
    received.length = 0;
    await bitbucketServer.statuses.post(repo(), sha, report({ state: 'skipped', description: 'condition not met' }));
    expect(received[0]!.body.description).toBe('skipped: condition not met');
  });

  it('refuses permanently without an API URL, before sending anything', async () => {
    const err = await bitbucketServer.statuses.post({ ...repo(), apiUrl: '' }, sha, report()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentReportError);
    expect(received).toHaveLength(0);
  });

  it('throws PermanentReportError, with the forge\'s message, on a permanent 4xx', async () => {
    answer = { status: 404, body: JSON.stringify({ errors: [{ context: null, message: 'Repository DEV/nope does not exist.', exceptionName: 'NoSuchRepositoryException' }] }) };
    const err = await bitbucketServer.statuses.post(repo(), sha, report()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentReportError);
    expect(err).toMatchObject({ status: 404, message: expect.stringContaining('Repository DEV/nope does not exist.') });
  });

  it.each([429, 500, 502])('throws a retryable error carrying the status on %i', async (status) => {
    answer = { status, body: '<html>Bad gateway</html>' };
    const err = await bitbucketServer.statuses.post(repo(), sha, report()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(PermanentReportError);
    expect(err).toMatchObject({ status });
  });
});
