import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { gitlab } from '../providers/gitlab/index.ts';
import { verifyGitLab } from '../providers/gitlab/verify.ts';
import { RateLimitedError } from '../providers/retry-after.ts';
import { type ForgeEvent, PermanentReportError } from '../providers/types.ts';

const FIXTURES = new URL('./fixtures/webhooks/', import.meta.url);
const manifest = JSON.parse(readFileSync(new URL('manifest.json', FIXTURES), 'utf8')) as Array<{
  file: string; provider: string; headers: Record<string, string>; expect: Record<string, any>;
}>;
const EVENT_KEYS = ['forge', 'kind', 'action', 'repo', 'ref', 'branch', 'tag', 'sha', 'before', 'created', 'deleted', 'forced', 'message', 'pullRequest', 'sender', 'source', 'type'];

function fixture(file: string): any {
  return JSON.parse(readFileSync(new URL(file, FIXTURES), 'utf8'));
}

function parse(event: string, payload: unknown) {
  return gitlab.parse.events({ 'x-gitlab-event': event }, payload);
}

function onlyEvent(result: ReturnType<typeof parse>): ForgeEvent {
  expect(result.outcome).toBe('events');
  const { events } = result as { events: ForgeEvent[] };
  expect(events).toHaveLength(1);
  return events[0]!;
}

/** Standard Webhooks signing, written out here rather than taken from the provider. */
function signStandard(secret: string, id: string, timestamp: string, body: Buffer): string {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64')}`;
}

describe('GitLab secret tokens', () => {
  const body = Buffer.from('{"object_kind":"push"}');
  const secrets = ['old-token', 'new-token'];

  it('accepts X-Gitlab-Token equal to any active secret', () => {
    for (const s of secrets) expect(gitlab.verify.proves({ 'x-gitlab-token': s }, body, secrets)).toBe(true);
  });

  it('refuses a missing, wrong, longer, shorter or differently cased token', () => {
    expect(gitlab.verify.proves({}, body, secrets)).toBe(false);
    expect(gitlab.verify.proves({ 'x-gitlab-token': 'other' }, body, secrets)).toBe(false);
    expect(gitlab.verify.proves({ 'x-gitlab-token': 'new-token ' }, body, secrets)).toBe(false);
    expect(gitlab.verify.proves({ 'x-gitlab-token': 'new-toke' }, body, secrets)).toBe(false);
    expect(gitlab.verify.proves({ 'x-gitlab-token': 'NEW-TOKEN' }, body, secrets)).toBe(false);
    expect(gitlab.verify.proves({ 'x-gitlab-token': '' }, body, secrets)).toBe(false);
    expect(gitlab.verify.proves({ 'x-gitlab-token': 'new-token' }, body, [])).toBe(false);
    expect(gitlab.verify.proves({ 'x-gitlab-token': '' }, body, [''])).toBe(false);
  });

  it('does not take a signing secret as a plain token', () => {
    const signing = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    expect(gitlab.verify.proves({ 'x-gitlab-token': signing }, body, [signing])).toBe(false);
  });
});

describe('GitLab signing tokens (Standard Webhooks)', () => {
  const secret = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;
  const other = `whsec_${Buffer.alloc(32, 1).toString('base64')}`;
  const body = Buffer.from('{"object_kind":"push","ref":"refs/heads/main"}');
  const id = '6c5a1c2e-4f7e-4b8e-9c6f-1f2e3d4c5b6a';
  const now = 1_760_000_000_000;
  const timestamp = String(now / 1000);

  function headers(signature: string, ts = timestamp, webhookId = id) {
    return { 'webhook-id': webhookId, 'webhook-timestamp': ts, 'webhook-signature': signature };
  }

  it('reproduces the Standard Webhooks reference vector', () => {
    const vector = {
      'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      'webhook-timestamp': '1614265330',
      'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    };
    expect(verifyGitLab(vector, Buffer.from('{"test": 2432232314}'), ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'], 1614265330_000)).toBe(true);
  });

  it('accepts a signature by any active key, among several entries', () => {
    const good = signStandard(secret, id, timestamp, body);
    expect(verifyGitLab(headers(good), body, [other, secret], now)).toBe(true);
    expect(verifyGitLab(headers(`${signStandard(other, id, timestamp, body)} ${good}`), body, [secret], now)).toBe(true);
    expect(verifyGitLab(headers(`v1a,AAAA ${good}`), body, [secret], now)).toBe(true);
    expect(verifyGitLab(headers(good), body, ['plain-token', secret], now)).toBe(true);
  });

  it('refuses missing headers, a foreign key, another id or timestamp, and non-canonical base64', () => {
    const good = signStandard(secret, id, timestamp, body);
    expect(verifyGitLab({}, body, [secret], now)).toBe(false);
    expect(verifyGitLab({ 'webhook-timestamp': timestamp, 'webhook-signature': good }, body, [secret], now)).toBe(false);
    expect(verifyGitLab({ 'webhook-id': id, 'webhook-signature': good }, body, [secret], now)).toBe(false);
    expect(verifyGitLab({ 'webhook-id': id, 'webhook-timestamp': timestamp }, body, [secret], now)).toBe(false);
    expect(verifyGitLab(headers(good), body, [other], now)).toBe(false);
    expect(verifyGitLab(headers(good), body, [], now)).toBe(false);
    expect(verifyGitLab(headers(good, timestamp, `${id}x`), body, [secret], now)).toBe(false);
    expect(verifyGitLab(headers(good, String(Number(timestamp) + 1)), body, [secret], now)).toBe(false);
    expect(verifyGitLab(headers(good.slice('v1,'.length)), body, [secret], now)).toBe(false);
    expect(verifyGitLab(headers(good.replace('v1,', 'v2,')), body, [secret], now)).toBe(false);
    // The last character of 32 bytes in base64 carries two unused bits: a neighbour decodes to the same bytes.
    const last = good.at(-2)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const twin = alphabet[alphabet.indexOf(last) ^ 1]!;
    const variant = `${good.slice(0, -2)}${twin}=`;
    expect(Buffer.from(variant.slice(3), 'base64')).toEqual(Buffer.from(good.slice(3), 'base64'));
    expect(verifyGitLab(headers(variant), body, [secret], now)).toBe(false);
    // The token path does not open for a signing secret sent as a token.
    expect(verifyGitLab({ 'x-gitlab-token': secret }, body, [secret], now)).toBe(false);
  });

  it('refuses a timestamp more than five minutes from now, either way', () => {
    for (const offset of [-300, 0, 299, 300]) {
      const ts = String(Number(timestamp) + offset);
      expect(verifyGitLab(headers(signStandard(secret, id, ts, body), ts), body, [secret], now), `${offset}`).toBe(true);
    }
    for (const offset of [-301, 301, -86_400, 86_400]) {
      const ts = String(Number(timestamp) + offset);
      expect(verifyGitLab(headers(signStandard(secret, id, ts, body), ts), body, [secret], now), `${offset}`).toBe(false);
    }
    for (const ts of ['', 'abc', '1.5e9', `${timestamp}.0`, `-${timestamp}`]) {
      expect(verifyGitLab(headers(signStandard(secret, id, ts, body), ts), body, [secret], now), ts).toBe(false);
    }
  });

  it('checks the timestamp against the real clock by default', () => {
    const ts = String(Math.floor(Date.now() / 1000));
    expect(gitlab.verify.proves(headers(signStandard(secret, id, ts, body), ts), body, [secret])).toBe(true);
    expect(gitlab.verify.proves(headers(signStandard(secret, id, timestamp, body)), body, [secret])).toBe(false);
  });

  it('refuses any single-byte change of the body or of the signature', () => {
    const signature = signStandard(secret, id, timestamp, body);
    fc.assert(fc.property(fc.nat(body.length - 1), fc.integer({ min: 1, max: 255 }), (index, delta) => {
      const changed = Buffer.from(body);
      changed[index] = (changed[index]! + delta) % 256;
      return verifyGitLab(headers(signature), changed, [secret], now) === false;
    }));
    const signatureBytes = Buffer.from(signature, 'latin1');
    fc.assert(fc.property(fc.nat(signatureBytes.length - 1), fc.integer({ min: 1, max: 255 }), (index, delta) => {
      const changed = Buffer.from(signatureBytes);
      changed[index] = (changed[index]! + delta) % 256;
      return verifyGitLab(headers(changed.toString('latin1')), body, [secret], now) === false;
    }));
  });
});

describe('GitLab delivery ids and detection', () => {
  it('prefers Idempotency-Key, then webhook-id, then X-Gitlab-Event-UUID', () => {
    expect(gitlab.verify.deliveryId({ 'idempotency-key': 'a', 'webhook-id': 'b', 'x-gitlab-event-uuid': 'c' })).toBe('a');
    expect(gitlab.verify.deliveryId({ 'webhook-id': 'b', 'x-gitlab-event-uuid': 'c' })).toBe('b');
    expect(gitlab.verify.deliveryId({ 'x-gitlab-event-uuid': 'c' })).toBe('c');
    expect(gitlab.verify.deliveryId({})).toBeNull();
  });

  it('authenticates git as oauth2 with the token, and names merge request refs', () => {
    const repo = { name: 'g/p', apiUrl: 'https://gitlab.com', token: 'glpat-xyz' };
    expect(gitlab.credentials.gitAuthConfig(repo)).toEqual([`http.extraHeader=Authorization: Basic ${Buffer.from('oauth2:glpat-xyz').toString('base64')}`]);
    expect(gitlab.credentials.gitAuthConfig({ ...repo, token: null })).toEqual([]);
    expect(gitlab.credentials.pullRequestRef(7)).toBe('refs/merge-requests/7/head');
  });
});

describe('GitLab payloads', () => {
  const fixtures = manifest.filter((f) => f.provider === 'gitlab');

  it('has fixtures for every kind', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(10);
  });

  it.each(fixtures.map((f) => [f.file, f] as const))('%s parses to its expectation', (_file, entry) => {
    const result = parse(entry.headers['X-Gitlab-Event']!, fixture(entry.file));
    const want = entry.expect;
    if (want.kind === 'ignored') {
      expect(result.outcome).toBe('ignored');
      expect((result as { repoName?: string | null }).repoName).toBe(want.repo);
      return;
    }
    const event = onlyEvent(result);
    expect(Object.keys(event).sort()).toEqual([...EVENT_KEYS].sort());
    expect(event.forge).toBe('gitlab');
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

  it('reads pushes fully', () => {
    const event = onlyEvent(parse('Push Hook', fixture('gitlab/push.json')));
    expect(event).toEqual({
      forge: 'gitlab', kind: 'push', action: null,
      repo: { name: 'test/woodpecker', cloneUrl: 'http://10.40.8.5:3200/test/woodpecker.git' },
      ref: 'refs/heads/main', branch: 'main', tag: null,
      sha: '16862e368d8ab812e48833b741dad720d6e2cb7f', before: 'ffe8eb4f91d1fe6bc49f1e610e50e4b5767f0104',
      created: false, deleted: false, forced: false,
      message: 'Update main.go', pullRequest: null, sender: 'test', source: null, type: null,
    });
  });

  it('peels an annotated tag to checkout_sha', () => {
    const payload = fixture('gitlab/tag-push.json');
    expect(payload.after).not.toBe(payload.checkout_sha);
    const event = onlyEvent(parse('Tag Push Hook', payload));
    expect(event).toMatchObject({ kind: 'tag', tag: 'v22', branch: null, sha: payload.checkout_sha, created: true, message: 'Update main.go' });
  });

  it('reads a tag deletion as deleted with no sha', () => {
    const created = fixture('gitlab/tag-push.json');
    const payload = { ...created, before: created.after, after: '0'.repeat(40), checkout_sha: null, commits: [] };
    expect(onlyEvent(parse('Tag Push Hook', payload))).toMatchObject({ kind: 'tag', tag: 'v22', deleted: true, created: false, sha: null, message: null });
  });

  it('reads merge request details: labels, draft, sender, message', () => {
    const event = onlyEvent(parse('Merge Request Hook', fixture('gitlab/mr-opened.json')));
    expect(event.pullRequest).toEqual({
      number: 3, title: 'Edit README.md for more text to read', labels: ['documentation'], draft: false,
      headRef: 'real6543-main-patch-42541', headSha: '2f7670508b771e7e77839402be8b34b13787aba8',
      headRepo: 'demoaccount2-commits-group/test_ci_tmp', baseRef: 'main', fromFork: false, mergeSha: null,
    });
    expect(event).toMatchObject({ ref: null, before: null, sender: 'real6543', message: 'Edit README.md for more text to read' });
    const draft = fixture('gitlab/mr-opened.json');
    draft.object_attributes.draft = undefined;
    draft.object_attributes.work_in_progress = true;
    expect(onlyEvent(parse('Merge Request Hook', draft)).pullRequest!.draft).toBe(true);
  });

  it('treats a merge request from another project, or from an unknown one, as a fork', () => {
    const payload = fixture('gitlab/mr-updated-new-commits.json');
    payload.object_attributes.source_project_id = 1;
    payload.object_attributes.source.path_with_namespace = 'someone/woodpecker';
    expect(onlyEvent(parse('Merge Request Hook', payload)).pullRequest).toMatchObject({ fromFork: true, headRepo: 'someone/woodpecker' });
    delete payload.object_attributes.source_project_id;
    payload.object_attributes.source = null;
    expect(onlyEvent(parse('Merge Request Hook', payload)).pullRequest).toMatchObject({ fromFork: true, headRepo: null });
  });

  it('ignores approvals, unknown actions, system hooks and other events with a reason', () => {
    for (const action of ['approved', 'unapproved', 'approval', 'unapproval', 'constructor', 'toString']) {
      const payload = fixture('gitlab/mr-opened.json');
      payload.object_attributes.action = action;
      const result = parse('Merge Request Hook', payload);
      expect(result, action).toMatchObject({ outcome: 'ignored', repoName: 'demoaccount2-commits-group/test_ci_tmp' });
      expect((result as { reason: string }).reason).toContain(action);
    }
    expect(parse('System Hook', fixture('gitlab/push.json'))).toMatchObject({ outcome: 'ignored' });
    expect(parse('Note Hook', fixture('gitlab/mr-opened.json'))).toMatchObject({ outcome: 'ignored', reason: "event 'Note Hook' is not acted on" });
    expect(parse('Push Hook', {})).toMatchObject({ outcome: 'ignored' });
    expect(parse('Merge Request Hook', null)).toMatchObject({ outcome: 'ignored' });
  });
});

describe('GitLab commit statuses', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  function stubFetch(status: number, body: unknown, headers: Record<string, string> = {}) {
    const requests: Request[] = [];
    vi.stubGlobal('fetch', vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      requests.push(new Request(input, init));
      return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
    }));
    return requests;
  }

  const repo = { name: 'group/sub/project', apiUrl: 'https://gitlab.example.com/', token: 'glpat-secret' };
  const sha = 'a'.repeat(40);

  it('posts the mapped state with name, description and target URL, truncated to 255', async () => {
    const requests = stubFetch(201, { id: 1 });
    await gitlab.statuses.post(repo, sha, { context: 'forgeline/ci/push', state: 'failure', description: 'x'.repeat(300), targetUrl: 'https://ci.example.com/runs/1#build' });
    expect(requests).toHaveLength(1);
    const request = requests[0]!;
    expect(request.method).toBe('POST');
    expect(request.url).toBe(`https://gitlab.example.com/api/v4/projects/group%2Fsub%2Fproject/statuses/${sha}`);
    expect(request.headers.get('private-token')).toBe('glpat-secret');
    const sent = await request.json();
    expect(sent).toMatchObject({ state: 'failed', name: 'forgeline/ci/push', target_url: 'https://ci.example.com/runs/1#build' });
    expect(sent.description).toHaveLength(255);
  });

  it('maps every state per docs/forges.md', async () => {
    const expected = { queued: 'pending', waiting: 'pending', running: 'running', success: 'success', failure: 'failed', canceled: 'canceled', skipped: 'skipped' } as const;
    for (const [state, gitlabState] of Object.entries(expected)) {
      const requests = stubFetch(201, {});
      await gitlab.statuses.post(repo, sha, { context: 'c', state: state as keyof typeof expected, description: 'd', targetUrl: 'https://ci/x' });
      expect((await requests[0]!.json()).state, state).toBe(gitlabState);
    }
  });

  it('reports a 4xx as permanent and lets a 5xx be retried', async () => {
    stubFetch(400, { message: 'Cannot transition status via :run from :running' });
    await expect(gitlab.statuses.post(repo, sha, { context: 'c', state: 'running', description: '', targetUrl: 'https://ci/x' }))
      .rejects.toBeInstanceOf(PermanentReportError);
    stubFetch(500, { message: 'boom' });
    const failure = gitlab.statuses.post(repo, sha, { context: 'c', state: 'running', description: '', targetUrl: 'https://ci/x' });
    await expect(failure).rejects.toThrow();
    await expect(failure).rejects.not.toBeInstanceOf(PermanentReportError);
  });

  it('comes back when a rate limit says, and never names the token', async () => {
    stubFetch(429, { message: 'Retry later, glpat-secret' }, { 'retry-after': '7' });
    const limited = await gitlab.statuses.post(repo, sha, { context: 'c', state: 'running', description: '', targetUrl: 'https://ci/x' }).catch((err: unknown) => err);
    expect(limited).toBeInstanceOf(RateLimitedError);
    expect(limited).toMatchObject({ retryAfter: 7, status: 429 });
    expect((limited as Error).message).not.toContain('glpat-secret');
  });
});
