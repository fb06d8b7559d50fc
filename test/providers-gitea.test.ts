import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { gitea } from '../providers/gitea/index.ts';
import { type ForgeEvent, PermanentReportError, type StatusReport } from '../providers/types.ts';

const FIXTURES = new URL('./fixtures/webhooks/', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('manifest.json', FIXTURES), 'utf8')) as Array<{
  file: string; provider: string; headers: Record<string, string>; expect: Record<string, any>;
}>;
const EVENT_KEYS = ['forge', 'kind', 'action', 'repo', 'ref', 'branch', 'tag', 'sha', 'before', 'created', 'deleted', 'forced', 'message', 'pullRequest', 'sender', 'source', 'type'];
const FORM = 'application/x-www-form-urlencoded';

function fixture(file: string): any {
  return JSON.parse(readFileSync(new URL(file, FIXTURES), 'utf8'));
}

function lowerCased(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

function parse(event: string, payload: unknown) {
  return gitea.parse.events({ 'x-gitea-event': event }, payload);
}

function onlyEvent(result: ReturnType<typeof parse>): ForgeEvent {
  expect(result.outcome).toBe('events');
  const { events } = result as { events: ForgeEvent[] };
  expect(events).toHaveLength(1);
  return events[0]!;
}

function signGitea(secret: string, data: string | Buffer): string {
  return createHmac('sha256', secret).update(data).digest('hex');
}

describe('Gitea signatures', () => {
  const body = Buffer.from(JSON.stringify(fixture('gitea/push.json')));
  const secrets = ['old-secret', 'new-secret'];

  it('accepts the HMAC of any active secret, in Gitea or Forgejo headers', () => {
    for (const s of secrets) {
      expect(gitea.verify.proves({ 'x-gitea-signature': signGitea(s, body) }, body, secrets)).toBe(true);
      expect(gitea.verify.proves({ 'x-forgejo-signature': signGitea(s, body) }, body, secrets)).toBe(true);
    }
  });

  it('refuses a missing, foreign, uppercase, prefixed or shortened signature', () => {
    const good = signGitea('new-secret', body);
    expect(gitea.verify.proves({}, body, secrets)).toBe(false);
    expect(gitea.verify.proves({ 'x-gitea-signature': signGitea('other', body) }, body, secrets)).toBe(false);
    expect(gitea.verify.proves({ 'x-gitea-signature': good.toUpperCase() }, body, secrets)).toBe(false);
    expect(gitea.verify.proves({ 'x-gitea-signature': `sha256=${good}` }, body, secrets)).toBe(false);
    expect(gitea.verify.proves({ 'x-gitea-signature': good.slice(0, -2) }, body, secrets)).toBe(false);
    expect(gitea.verify.proves({ 'x-gitea-signature': good }, body, [])).toBe(false);
    // Gitea also sends GitHub's header; only its own counts.
    expect(gitea.verify.proves({ 'x-hub-signature-256': `sha256=${good}` }, body, secrets)).toBe(false);
  });

  it('refuses any single-byte change of the body or of the signature', () => {
    const signature = signGitea('new-secret', body);
    fc.assert(fc.property(fc.nat(body.length - 1), fc.integer({ min: 1, max: 255 }), (index, delta) => {
      const changed = Buffer.from(body);
      changed[index] = (changed[index]! + delta) % 256;
      return gitea.verify.proves({ 'x-gitea-signature': signature }, changed, secrets) === false;
    }));
    const signatureBytes = Buffer.from(signature, 'latin1');
    fc.assert(fc.property(fc.nat(signatureBytes.length - 1), fc.integer({ min: 1, max: 255 }), (index, delta) => {
      const changed = Buffer.from(signatureBytes);
      changed[index] = (changed[index]! + delta) % 256;
      return gitea.verify.proves({ 'x-gitea-signature': changed.toString('latin1') }, body, secrets) === false;
    }));
  });

  describe('form-encoded deliveries', () => {
    // Spaces, `+`, `&`, `=` and non-ASCII text all change between the form bytes and the JSON.
    const json = JSON.stringify({ ...fixture('gitea/push.json'), note: 'héllo wörld ✓ a+b & c=d' });
    const form = Buffer.from(new URLSearchParams({ payload: json }).toString());
    const headers = (signature: string) => ({ 'content-type': `${FORM}; charset=utf-8`, 'x-gitea-signature': signature });

    it('verifies the JSON inside `payload`, as UTF-8', () => {
      expect(form.toString()).toContain('+');
      expect(gitea.verify.proves(headers(signGitea('new-secret', Buffer.from(json, 'utf8'))), form, secrets)).toBe(true);
      expect(gitea.parse.payloadOf(headers(''), form)).toEqual(JSON.parse(json));
    });

    it('refuses a signature over the form bytes, a changed payload, or a form without one', () => {
      expect(gitea.verify.proves(headers(signGitea('new-secret', form)), form, secrets)).toBe(false);
      const signature = signGitea('new-secret', json);
      const changed = Buffer.from(new URLSearchParams({ payload: json.replace('wörld', 'world') }).toString());
      expect(gitea.verify.proves(headers(signature), changed, secrets)).toBe(false);
      expect(gitea.verify.proves(headers(signature), Buffer.from(new URLSearchParams({ body: json }).toString()), secrets)).toBe(false);
      // The same bytes sent as JSON are checked as they are.
      expect(gitea.verify.proves({ 'content-type': 'application/json', 'x-gitea-signature': signature }, form, secrets)).toBe(false);
    });
  });
});

describe('Gitea delivery ids and detection', () => {
  it('reads the delivery id from Gitea or Forgejo headers', () => {
    expect(gitea.verify.deliveryId({ 'x-gitea-delivery': 'g', 'x-forgejo-delivery': 'f' })).toBe('g');
    expect(gitea.verify.deliveryId({ 'x-forgejo-delivery': 'f' })).toBe('f');
    expect(gitea.verify.deliveryId({})).toBeNull();
  });

  it('takes the event name from X-Forgejo-Event when X-Gitea-Event is absent', () => {
    const event = onlyEvent(gitea.parse.events({ 'x-forgejo-event': 'push' }, fixture('gitea/push-new-branch.json')));
    expect(event).toMatchObject({ kind: 'push', branch: 'fdsafdsa' });
  });

  it('authenticates git with the token as password, and names pull request refs', () => {
    const repo = { name: 'o/r', apiUrl: 'https://gitea.com', token: 'tok' };
    expect(gitea.credentials.gitAuthConfig(repo)).toEqual([`http.extraHeader=Authorization: Basic ${Buffer.from('forgeline:tok').toString('base64')}`]);
    expect(gitea.credentials.gitAuthConfig({ ...repo, token: null })).toEqual([]);
    expect(gitea.credentials.pullRequestRef(5)).toBe('refs/pull/5/head');
  });
});

describe('Gitea payloads', () => {
  const fixtures = manifest.filter((f) => f.provider === 'gitea');

  it('has fixtures for every kind', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(9);
  });

  it.each(fixtures.map((f) => [f.file, f] as const))('%s parses to its expectation', (_file, entry) => {
    const result = gitea.parse.events(lowerCased(entry.headers), fixture(entry.file));
    const want = entry.expect;
    if (want.kind === 'ignored') {
      expect(result.outcome).toBe('ignored');
      return;
    }
    const event = onlyEvent(result);
    expect(Object.keys(event).sort()).toEqual([...EVENT_KEYS].sort());
    expect(event.forge).toBe('gitea');
    expect(event.kind).toBe(want.kind);
    expect(event.repo.name).toBe(want.repo);
    for (const key of ['ref', 'branch', 'tag', 'sha', 'before', 'deleted', 'created', 'forced', 'action'] as const) {
      if (key in want) expect(event[key], key).toBe(want[key]);
    }
    if (want.pr) {
      const { merged, ...pr } = want.pr;
      expect(event.pullRequest).toMatchObject(pr);
      expect(event.action === 'merged').toBe(merged);
    } else {
      expect(event.pullRequest).toBeNull();
    }
  });

  it('reads pushes fully, without flags Gitea does not send', () => {
    const event = onlyEvent(parse('push', fixture('gitea/push.json')));
    expect(event).toEqual({
      forge: 'gitea', kind: 'push', action: null,
      repo: { name: 'Test-CI/multi-line-secrets', cloneUrl: 'http://127.0.0.1:3000/Test-CI/multi-line-secrets.git' },
      ref: 'refs/heads/main', branch: 'main', tag: null,
      sha: '29be01c073851cf0db0c6a466e396b725a670453', before: '6efcf5b7c98f3e7a491675164b7a2e7acac27941',
      created: false, deleted: false, forced: false,
      message: 'add some text\n', pullRequest: null, sender: 'test-user', source: null, type: null,
    });
  });

  it('reads a tag push peeled to its commit, and a tag deletion', () => {
    const payload = fixture('gitea/push.json');
    const commit = payload.head_commit.id;
    Object.assign(payload, { ref: 'refs/tags/v1.0', before: '0'.repeat(40), after: 'f'.repeat(40), commits: [] });
    expect(onlyEvent(parse('push', payload))).toMatchObject({ kind: 'tag', tag: 'v1.0', branch: null, sha: commit, created: true, deleted: false });
    Object.assign(payload, { before: commit, after: '0'.repeat(40), head_commit: null });
    expect(onlyEvent(parse('push', payload))).toMatchObject({ kind: 'tag', tag: 'v1.0', sha: null, created: false, deleted: true, message: null });
  });

  // Gitea's DeletePayload (modules/structs/hook.go: ref, ref_type, pusher_type, repository, sender);
  // the repository and sender are those of the captured push.
  it('reads a branch or tag deletion as a deleted push, with no commit', () => {
    const push = fixture('gitea/push.json');
    const deletion = (ref: string, refType: string) => ({ ref, ref_type: refType, pusher_type: 'user', repository: push.repository, sender: push.sender });
    expect(onlyEvent(parse('delete', deletion('feature/x', 'branch')))).toEqual({
      forge: 'gitea', kind: 'push', action: null,
      repo: { name: 'Test-CI/multi-line-secrets', cloneUrl: 'http://127.0.0.1:3000/Test-CI/multi-line-secrets.git' },
      ref: 'refs/heads/feature/x', branch: 'feature/x', tag: null,
      sha: null, before: null, created: false, deleted: true, forced: false,
      message: null, pullRequest: null, sender: 'test-user', source: null, type: null,
    });
    expect(onlyEvent(parse('delete', deletion('v1.0', 'tag')))).toMatchObject({ kind: 'tag', ref: 'refs/tags/v1.0', tag: 'v1.0', branch: null, sha: null, deleted: true });
    expect(parse('delete', deletion('x', 'repository'))).toMatchObject({ outcome: 'ignored', repoName: 'Test-CI/multi-line-secrets' });
  });

  it('reads pull request details and never copies the payload (old Gitea sends its secret in it)', () => {
    const payload = fixture('gitea/pr-opened.json');
    expect(payload.secret).toBeTruthy();
    const event = onlyEvent(parse('pull_request', payload));
    expect(event).toEqual({
      forge: 'gitea', kind: 'pull_request', action: 'opened',
      repo: { name: 'kostekIV/test', cloneUrl: 'https://try.gitea.io/kostekIV/test.git' },
      ref: null, branch: 'test-branch', tag: null,
      sha: '01efc1fe09d4fba25397a386a6c623fd12eadd79', before: null,
      created: false, deleted: false, forced: false, message: 'New pr',
      pullRequest: {
        number: 4, title: 'New pr', labels: [], draft: false,
        headRef: 'test-branch', headSha: '01efc1fe09d4fba25397a386a6c623fd12eadd79', headRepo: 'kostekIV/test',
        baseRef: 'master', fromFork: false, mergeSha: null,
      },
      sender: 'kostekIV', source: null, type: null,
    });
    expect(JSON.stringify(event)).not.toContain('secret');
  });

  it('reads labels', () => {
    const event = onlyEvent(gitea.parse.events({ 'x-forgejo-event': 'pull_request' }, fixture('gitea/pr-label-updated.json')));
    expect(event.pullRequest!.labels.length).toBeGreaterThan(0);
    expect(event.pullRequest!.labels).toContain('Kind/Documentation');
  });

  it('tells forks by repository id, else by name; unknown is a fork', () => {
    const payload = fixture('gitea/pr-edited.json');
    const fromFork = () => onlyEvent(parse('pull_request', payload)).pullRequest!.fromFork;
    expect(fromFork()).toBe(false);
    payload.pull_request.head.repo_id = 999;
    expect(fromFork()).toBe(true);
    delete payload.pull_request.head.repo_id;
    expect(fromFork()).toBe(false);
    payload.pull_request.head.repo.full_name = 'someone/hello_world_ci';
    expect(fromFork()).toBe(true);
    expect(onlyEvent(parse('pull_request', payload)).pullRequest!.headRepo).toBe('someone/hello_world_ci');
    payload.pull_request.head.repo = null;
    expect(fromFork()).toBe(true);
    expect(onlyEvent(parse('pull_request', payload)).pullRequest!.headRepo).toBeNull();
  });

  it('ignores other events and actions with a reason', () => {
    const pr = fixture('gitea/pr-opened.json');
    for (const name of ['create', 'pull_request_approved', 'pull_request_rejected', 'pull_request_comment', 'issues', 'issue_comment', 'release', 'ping']) {
      const result = parse(name, pr);
      expect(result, name).toMatchObject({ outcome: 'ignored', repoName: 'kostekIV/test' });
      expect((result as { reason: string }).reason).toContain(name);
    }
    for (const action of ['assigned', 'review_requested', 'milestoned', 'constructor']) {
      const result = parse('pull_request', { ...pr, action });
      expect(result, action).toMatchObject({ outcome: 'ignored', repoName: 'kostekIV/test' });
    }
    expect(parse('push', {})).toMatchObject({ outcome: 'ignored' });
    expect(parse('pull_request', null)).toMatchObject({ outcome: 'ignored' });
  });

  it('calls label clearing an edit', () => {
    const payload = { ...fixture('gitea/pr-label-updated.json'), action: 'label_cleared' };
    expect(onlyEvent(parse('pull_request', payload)).action).toBe('edited');
  });
});

describe('Gitea commit statuses', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  function stubFetch(status: number, body: unknown) {
    const calls: Array<{ url: string; init: RequestInit }> = [];
    vi.stubGlobal('fetch', vi.fn(async (url: string | URL, init: RequestInit) => {
      calls.push({ url: String(url), init });
      return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
    }));
    return calls;
  }

  const repo = { name: 'acme/widget', apiUrl: 'https://git.example.com/', token: 'tok' };
  const sha = 'b'.repeat(40);
  const report = (state: StatusReport['state'], description = 'build passed'): StatusReport =>
    ({ context: 'forgeline/ci/push/build', state, description, targetUrl: 'https://ci.example.com/runs/1#build' });

  it('posts state, target_url, description and context with the token', async () => {
    const calls = stubFetch(201, {});
    await gitea.statuses.post(repo, sha, report('success'));
    expect(calls).toHaveLength(1);
    const { url, init } = calls[0]!;
    expect(url).toBe(`https://git.example.com/api/v1/repos/acme/widget/statuses/${sha}`);
    expect(init.method).toBe('POST');
    expect((init.headers as Record<string, string>).authorization).toBe('token tok');
    expect(JSON.parse(init.body as string)).toEqual({
      state: 'success', target_url: 'https://ci.example.com/runs/1#build', description: 'build passed', context: 'forgeline/ci/push/build',
    });
  });

  it('maps every state per docs/forges.md, skipped as a success that says so', async () => {
    const expected = { queued: 'pending', waiting: 'pending', running: 'pending', success: 'success', failure: 'failure', canceled: 'error', skipped: 'success' } as const;
    for (const [state, giteaState] of Object.entries(expected)) {
      const calls = stubFetch(201, {});
      await gitea.statuses.post(repo, sha, report(state as keyof typeof expected, 'branch filter'));
      const sent = JSON.parse(calls[0]!.init.body as string);
      expect(sent.state, state).toBe(giteaState);
      expect(sent.description, state).toBe(state === 'skipped' ? 'skipped: branch filter' : 'branch filter');
    }
  });

  it('sends no Authorization header without a token', async () => {
    const calls = stubFetch(201, {});
    await gitea.statuses.post({ ...repo, token: null }, sha, report('running'));
    expect((calls[0]!.init.headers as Record<string, string>).authorization).toBeUndefined();
  });

  it('reports a 4xx as permanent, and a 429 or 5xx as an error with its status', async () => {
    stubFetch(404, { message: 'repository does not exist' });
    await expect(gitea.statuses.post(repo, sha, report('success'))).rejects.toThrow(PermanentReportError);
    stubFetch(404, { message: 'repository does not exist' });
    await expect(gitea.statuses.post(repo, sha, report('success'))).rejects.toThrow(/^Gitea answered 404 to POST \/api\/v1\/repos\/acme\/widget\/statuses\/b+: repository does not exist/);
    for (const status of [429, 500, 502]) {
      stubFetch(status, { message: 'later' });
      const error = await gitea.statuses.post(repo, sha, report('success')).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(Error);
      expect(error).not.toBeInstanceOf(PermanentReportError);
      expect((error as { status?: number }).status).toBe(status);
    }
  });
});
