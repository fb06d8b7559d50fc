import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { bitbucketBranchHeads } from '../providers/bitbucket/branches.ts';
import { ensureBitbucketHook } from '../providers/bitbucket/hooks.ts';
import { bitbucketServerBranchHeads } from '../providers/bitbucket-server/branches.ts';
import { ensureBitbucketServerHook } from '../providers/bitbucket-server/hooks.ts';
import { linkNext } from '../providers/forge-api/pages.ts';
import { giteaBranchHeads } from '../providers/gitea/branches.ts';
import { ensureGiteaHook } from '../providers/gitea/hooks.ts';
import { gitHubBranchHeads } from '../providers/github/branches.ts';
import { redeliverGitHubMissed } from '../providers/github/deliveries.ts';
import { ensureGitHubHook } from '../providers/github/hooks.ts';
import { gitLabBranchHeads } from '../providers/gitlab/branches.ts';
import { ensureGitLabHook } from '../providers/gitlab/hooks.ts';
import { PermanentReportError, type RepoAccess } from '../providers/types.ts';
import { OpenApiCheck } from './helpers/openapi-check.ts';

const TOKEN = 'tok-3f9a1c77e2';
const HOOK_URL = 'https://ci.example/hooks/Zk3pQ9vX2mW8rT5yL1nB4c';
const SECRET = 'hook-secret-5b2e91';
// Every fake answers at most this many items a page, whatever is asked: servers cap page sizes.
const PAGE = 2;

interface Received {
  method: string;
  /** The path as sent, percent-encoding kept. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: any;
}

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

interface Fake {
  base: string;
  received: Received[];
  /** Problems the fake found with a request (a test expects none). */
  violations: string[];
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

/** A local HTTP server answering through `route`; it keeps every request for the test to inspect. */
async function fakeForge(route: (req: Received, fake: Fake) => Reply): Promise<Fake> {
  const fake: Fake = { base: '', received: [], violations: [] };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const text = Buffer.concat(chunks).toString('utf8');
      const received: Received = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body: text ? JSON.parse(text) : null };
      fake.received.push(received);
      let reply: Reply;
      try {
        reply = route(received, fake);
      } catch (err) {
        fake.violations.push((err as Error).message);
        reply = { status: 599, body: { message: (err as Error).message } };
      }
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}

/** One page of `items`: 1-based page number, PAGE items at most. */
function slice<T>(items: T[], page: number): { items: T[]; more: boolean } {
  const from = (page - 1) * PAGE;
  return { items: items.slice(from, from + PAGE), more: from + PAGE < items.length };
}

function requests(fake: Fake, method: string, path?: string): Received[] {
  return fake.received.filter((r) => r.method === method && (path === undefined || r.path === path));
}

async function rejection(promise: Promise<unknown>): Promise<Error & { status?: number }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { status?: number };
  }
  throw new Error('expected a rejection');
}

describe('Link headers', () => {
  it('finds rel="next" among several links, with commas in URLs and several relations', () => {
    expect(linkNext('<https://a/x?page=2>; rel="next", <https://a/x?page=9>; rel="last"')).toBe('https://a/x?page=2');
    expect(linkNext('<https://a/x?page=1>; rel="prev first", <https://a/x?f=a,b&page=3>; rel="next"')).toBe('https://a/x?f=a,b&page=3');
    expect(linkNext('<https://a/x?page=4>; rel=next')).toBe('https://a/x?page=4');
    expect(linkNext('<https://a/x?page=9>; rel="last"')).toBeNull();
    expect(linkNext(null)).toBeNull();
  });
});

// ---------------------------------------------------------------- GitHub

let openApi: OpenApiCheck | undefined;

/**
 * GitHub Enterprise's REST API under /api/v3, checking every request against
 * GitHub's OpenAPI description. Its Link headers name the instance's public
 * hostname, which is not the address the client was given.
 */
async function fakeGitHub(state: { hooks: any[]; branches: any[]; deliveries: any[]; redeliver?: (id: number) => Reply }) {
  openApi ??= new OpenApiCheck();
  const check = openApi;
  let nextId = 1000;
  const link = (path: string, query: Record<string, string | number>) =>
    `<https://ghe.example.invalid/api/v3${path}?${new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]))}>; rel="next"`;
  return fakeForge((req): Reply => {
    if (!req.path.startsWith('/api/v3/')) throw new Error(`${req.method} ${req.path}: not under /api/v3`);
    const path = req.path.slice('/api/v3'.length);
    const { route, params } = check.check(req.method, path, req.body);
    const page = Number(req.query.get('page') ?? '1');
    switch (route) {
      case 'GET /repos/{owner}/{repo}/hooks': {
        const { items, more } = slice(state.hooks, page);
        return { status: 200, body: items, headers: more ? { link: link(path, { per_page: 100, page: page + 1 }) } : {} };
      }
      case 'POST /repos/{owner}/{repo}/hooks': {
        const hook = { id: nextId++, name: 'web', active: req.body.active, events: req.body.events, config: { ...req.body.config, secret: '********' } };
        state.hooks.push(hook);
        return { status: 201, body: hook };
      }
      case 'PATCH /repos/{owner}/{repo}/hooks/{hook_id}': {
        const hook = state.hooks.find((h) => String(h.id) === params.hook_id);
        if (!hook) return { status: 404, body: { message: 'Not Found' } };
        Object.assign(hook, { active: req.body.active, events: req.body.events, config: { ...req.body.config, secret: '********' } });
        return { status: 200, body: hook };
      }
      case 'GET /repos/{owner}/{repo}/branches': {
        const { items, more } = slice(state.branches, page);
        return { status: 200, body: items, headers: more ? { link: link(path, { per_page: 100, page: page + 1 }) } : {} };
      }
      case 'GET /repos/{owner}/{repo}/hooks/{hook_id}/deliveries': {
        // Cursor pagination: the cursor is where the page starts.
        const start = Number(req.query.get('cursor') ?? '0');
        const items = state.deliveries.slice(start, start + PAGE);
        const more = start + PAGE < state.deliveries.length;
        return { status: 200, body: items, headers: more ? { link: link(path, { per_page: 100, cursor: start + PAGE }) } : {} };
      }
      case 'POST /repos/{owner}/{repo}/hooks/{hook_id}/deliveries/{delivery_id}/attempts':
        return state.redeliver?.(Number(params.delivery_id)) ?? { status: 202, body: {} };
      default:
        throw new Error(`unexpected call ${route}`);
    }
  });
}

function gitHubRepo(fake: Fake): RepoAccess {
  return { name: 'octo-org/widgets', apiUrl: `${fake.base}/api/v3/`, token: TOKEN };
}

function otherHooks(count: number): any[] {
  return Array.from({ length: count }, (_, i) => ({
    id: 100 + i, name: 'web', active: true, events: ['push'], config: { url: `https://other.example/hook/${i}`, content_type: 'form', insecure_ssl: '0' },
  }));
}

describe('GitHub webhooks', () => {
  it('updates the hook with the same URL found on the last page, never adding a second one', async () => {
    const hooks = otherHooks(4);
    hooks.push({ id: 104, name: 'web', active: false, events: ['push'], config: { url: HOOK_URL, content_type: 'form', insecure_ssl: '1', secret: '********' } });
    const fake = await fakeGitHub({ hooks, branches: [], deliveries: [] });

    expect(await ensureGitHubHook(gitHubRepo(fake), { url: HOOK_URL, secret: SECRET })).toEqual({ id: '104', created: false });

    expect(fake.violations).toEqual([]);
    // The Link header named another host: every page was still asked of the registered API.
    expect(requests(fake, 'GET').map((r) => r.query.get('page') ?? '1')).toEqual(['1', '2', '3']);
    expect(requests(fake, 'POST')).toHaveLength(0);
    const [patch] = requests(fake, 'PATCH');
    expect(patch!.path).toBe('/api/v3/repos/octo-org/widgets/hooks/104');
    // The whole config again (GitHub drops a secret left out), keeping the owner's TLS choice.
    expect(patch!.body).toEqual({ active: true, events: ['push', 'pull_request'], config: { url: HOOK_URL, content_type: 'json', secret: SECRET, insecure_ssl: '1' } });
    for (const r of fake.received) expect(r.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(hooks).toHaveLength(5);
  });

  it('creates a missing hook after searching every page, then finds it again instead of duplicating it', async () => {
    const hooks = otherHooks(5);
    const fake = await fakeGitHub({ hooks, branches: [], deliveries: [] });
    const repo = gitHubRepo(fake);

    const created = await ensureGitHubHook(repo, { url: HOOK_URL, secret: SECRET });
    expect(created).toEqual({ id: '1000', created: true });
    expect(requests(fake, 'GET')).toHaveLength(3);
    const [post] = requests(fake, 'POST');
    expect(post!.path).toBe('/api/v3/repos/octo-org/widgets/hooks');
    expect(post!.body).toEqual({ name: 'web', active: true, events: ['push', 'pull_request'], config: { url: HOOK_URL, content_type: 'json', secret: SECRET } });

    expect(await ensureGitHubHook(repo, { url: HOOK_URL, secret: 'rotated-secret' })).toEqual({ id: '1000', created: false });
    expect(requests(fake, 'POST')).toHaveLength(1);
    expect(requests(fake, 'PATCH')[0]!.body.config.secret).toBe('rotated-secret');
    expect(hooks.filter((h) => h.config.url === HOOK_URL)).toHaveLength(1);
    expect(fake.violations).toEqual([]);
  });

  it('reports a 4xx as permanent with GitHub\'s words, a rate limit or 5xx as worth retrying, and never the token or secret', async () => {
    let reply: Reply = { status: 404, body: { message: 'Not Found' } };
    const fake = await fakeForge(() => reply);
    const repo: RepoAccess = { name: 'octo-org/widgets', apiUrl: `${fake.base}/api/v3`, token: TOKEN };

    const notFound = await rejection(ensureGitHubHook(repo, { url: HOOK_URL, secret: SECRET }));
    expect(notFound).toBeInstanceOf(PermanentReportError);
    expect(notFound.status).toBe(404);
    expect(notFound.message).toMatch(/^GitHub answered 404 to GET \/api\/v3\/repos\/octo-org\/widgets\/hooks: Not Found \(managing webhooks needs admin rights/);

    reply = { status: 422, body: { message: 'Validation Failed', errors: [{ resource: 'Hook', code: 'custom', message: `secret ${SECRET} rejected for token ${TOKEN}` }] } };
    const invalid = await rejection(ensureGitHubHook(repo, { url: HOOK_URL, secret: SECRET }));
    expect(invalid).toBeInstanceOf(PermanentReportError);
    expect(invalid.message).toContain('Validation Failed; secret [redacted] rejected for token [redacted]');
    expect(invalid.message).not.toContain(TOKEN);
    expect(invalid.message).not.toContain(SECRET);

    reply = { status: 403, body: { message: 'API rate limit exceeded' }, headers: { 'x-ratelimit-remaining': '0' } };
    const limited = await rejection(gitHubBranchHeads(repo));
    expect(limited).not.toBeInstanceOf(PermanentReportError);
    expect(limited.status).toBe(403);

    reply = { status: 403, body: { message: 'Resource not accessible by personal access token' } };
    expect(await rejection(gitHubBranchHeads(repo))).toBeInstanceOf(PermanentReportError);

    reply = { status: 502, body: 'Bad Gateway' };
    const bad = await rejection(gitHubBranchHeads(repo));
    expect(bad).not.toBeInstanceOf(PermanentReportError);
    expect(bad.status).toBe(502);
  });

  it('does not follow a redirect (the token would go along)', async () => {
    const fake = await fakeForge((req) =>
      req.path.endsWith('/hooks') ? { status: 301, headers: { location: '/api/v3/repositories/9/hooks' }, body: { message: 'Moved Permanently' } } : { status: 200, body: [] });
    const err = await rejection(ensureGitHubHook({ name: 'octo-org/widgets', apiUrl: `${fake.base}/api/v3`, token: TOKEN }, { url: HOOK_URL, secret: SECRET }));
    expect(err.status).toBe(301);
    expect(err.message).toContain('has the repository moved or been renamed?');
    expect(fake.received).toHaveLength(1);
  });
});

describe('GitHub missed deliveries', () => {
  const now = Date.parse('2026-03-02T12:00:00Z');
  const ago = (minutes: number) => new Date(now - minutes * 60_000).toISOString().replace('.000Z', 'Z');
  const delivery = (id: number, guid: string, status_code: number, minutes: number, redelivery = false) => ({
    id, guid, delivered_at: ago(minutes), redelivery, duration: 0.2, status: status_code >= 200 && status_code < 300 ? 'OK' : 'Service Unavailable',
    status_code, event: 'push', action: null, installation_id: null, repository_id: 42,
  });
  // Newest first, as GitHub lists them; a guid names one event across its redeliveries.
  const deliveries = [
    delivery(20, 'guid-seen-ok', 200, 1),
    delivery(19, 'guid-failed', 503, 2, true),
    delivery(18, 'guid-unseen', 202, 3),
    delivery(17, 'guid-fixed', 200, 4, true),
    delivery(16, 'guid-failed-again', 500, 5, true),
    delivery(15, 'guid-fixed', 503, 6),
    delivery(14, 'guid-failed', 503, 7),
    delivery(13, 'guid-failed-again', 200, 8),
    delivery(12, 'guid-too-old-to-redeliver', 0, 9),
    delivery(11, 'guid-before-since', 503, 120),
    delivery(10, 'guid-on-a-page-never-read', 503, 180),
    delivery(9, 'guid-on-a-page-never-read', 503, 190),
  ];
  const since = new Date(now - 60 * 60_000);

  it('redelivers, oldest first, each event whose newest attempt failed or which never reached us, and stops paging past `since`', async () => {
    const fake = await fakeGitHub({
      hooks: [], branches: [], deliveries,
      redeliver: (id) => (id === 12 ? { status: 422, body: { message: 'Cannot redeliver deliveries older than 3 days' } } : { status: 202, body: {} }),
    });
    const asked: string[] = [];
    const seenGuids = new Set(['guid-seen-ok', 'guid-fixed', 'guid-failed', 'guid-failed-again', 'guid-before-since']);
    const seen = async (guid: string) => {
      asked.push(guid);
      return seenGuids.has(guid);
    };

    const redelivered = await redeliverGitHubMissed(gitHubRepo(fake), '42', since, seen);

    expect(fake.violations).toEqual([]);
    expect(redelivered).toEqual(['guid-failed-again', 'guid-unseen', 'guid-failed']);
    // Each redelivery goes to the newest attempt; the 422 for a delivery past GitHub's window does not stop the rest.
    expect(requests(fake, 'POST').map((r) => r.path.replace('/api/v3/repos/octo-org/widgets/hooks/42/deliveries/', ''))).toEqual([
      '12/attempts', '16/attempts', '18/attempts', '19/attempts',
    ]);
    // Only successful attempts need asking whether they reached us.
    expect(asked.sort()).toEqual(['guid-fixed', 'guid-seen-ok', 'guid-unseen']);
    // Pages by cursor, and none after the one reaching before `since`.
    expect(requests(fake, 'GET').map((r) => r.query.get('cursor') ?? '0')).toEqual(['0', '2', '4', '6', '8']);
    for (const r of fake.received) expect(r.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('answers nothing when every recent event arrived', async () => {
    const fake = await fakeGitHub({ hooks: [], branches: [], deliveries: [delivery(5, 'a', 200, 1), delivery(4, 'b', 200, 2)] });
    expect(await redeliverGitHubMissed(gitHubRepo(fake), '42', since, async () => true)).toEqual([]);
    expect(requests(fake, 'POST')).toHaveLength(0);
  });

  it('throws when GitHub refuses the listing, naming the rights needed', async () => {
    const fake = await fakeForge(() => ({ status: 404, body: { message: 'Not Found' } }));
    const err = await rejection(redeliverGitHubMissed({ name: 'octo-org/widgets', apiUrl: fake.base, token: TOKEN }, '42', since, async () => true));
    expect(err).toBeInstanceOf(PermanentReportError);
    expect(err.message).toContain('redelivering needs admin rights');
  });
});

describe('GitHub branch heads', () => {
  it('lists every branch with its head commit across pages', async () => {
    const branches = ['main', 'dev', 'feature/a', 'feature/b', 'release/1.0'].map((name, i) => ({ name, commit: { sha: `${i}`.repeat(40), url: 'x' }, protected: false }));
    const fake = await fakeGitHub({ hooks: [], branches, deliveries: [] });
    expect(await gitHubBranchHeads(gitHubRepo(fake))).toEqual(branches.map((b) => ({ branch: b.name, sha: b.commit.sha })));
    expect(requests(fake, 'GET')).toHaveLength(3);
    expect(fake.violations).toEqual([]);
  });
});

// ---------------------------------------------------------------- GitLab

const GITLAB_PROJECT = '/api/v4/projects/platform%2Fci%2Fwidgets';

/**
 * GitLab's project API: the hook list pages with x-next-page only (no Link),
 * the branch list with a Link header. `signing` says whether this GitLab
 * takes signing tokens (the webhook_signing_token feature flag).
 */
async function fakeGitLab(state: { hooks: any[]; branches: any[]; signing: boolean }) {
  let nextId = 500;
  const stored = (hook: any, body: any) => {
    const { token, signing_token, ...rest } = body;
    Object.assign(hook, rest);
    if (token !== undefined) hook.token_present = true;
    if (signing_token !== undefined && state.signing) hook.signing_token_present = true;
    if (!state.signing) delete hook.signing_token_present;
    return hook;
  };
  return fakeForge((req, fake): Reply => {
    if (req.headers['private-token'] !== TOKEN) return { status: 401, body: { message: '401 Unauthorized' } };
    const page = Number(req.query.get('page') ?? '1');
    if (req.method === 'GET' && req.path === `${GITLAB_PROJECT}/hooks`) {
      const { items, more } = slice(state.hooks, page);
      return { status: 200, body: items, headers: { 'x-page': String(page), 'x-next-page': more ? String(page + 1) : '' } };
    }
    if (req.method === 'POST' && req.path === `${GITLAB_PROJECT}/hooks`) {
      const hook = stored({ id: nextId++, created_at: '2026-03-01T00:00:00Z' }, req.body);
      state.hooks.push(hook);
      return { status: 201, body: hook };
    }
    const put = /^\/api\/v4\/projects\/platform%2Fci%2Fwidgets\/hooks\/(\d+)$/.exec(req.path);
    if (req.method === 'PUT' && put) {
      const hook = state.hooks.find((h) => h.id === Number(put[1]));
      return hook ? { status: 200, body: stored(hook, req.body) } : { status: 404, body: { message: '404 Not found' } };
    }
    if (req.method === 'GET' && req.path === `${GITLAB_PROJECT}/repository/branches`) {
      const { items, more } = slice(state.branches, page);
      const next = `${fake.base}${GITLAB_PROJECT}/repository/branches?page=${page + 1}&per_page=100`;
      return { status: 200, body: items, headers: more ? { link: `<${next}>; rel="next"` } : {} };
    }
    throw new Error(`unexpected ${req.method} ${req.path}`);
  });
}

function gitLabRepo(fake: Fake): RepoAccess {
  return { name: 'platform/ci/widgets', apiUrl: fake.base, token: TOKEN };
}

function gitLabHooks(count: number): any[] {
  return Array.from({ length: count }, (_, i) => ({ id: 10 + i, url: `https://other.example/${i}`, push_events: true, tag_push_events: false, merge_requests_events: false }));
}

describe('GitLab webhooks', () => {
  const events = { push_events: true, tag_push_events: true, merge_requests_events: true };

  it('updates the hook with the same URL found on the last page (x-next-page), never adding a second one', async () => {
    const hooks = gitLabHooks(4);
    hooks.push({ id: 14, url: HOOK_URL, push_events: false, tag_push_events: false, merge_requests_events: false, enable_ssl_verification: false });
    const fake = await fakeGitLab({ hooks, branches: [], signing: false });

    expect(await ensureGitLabHook(gitLabRepo(fake), { url: HOOK_URL, secret: SECRET })).toEqual({ id: '14', created: false });

    expect(fake.violations).toEqual([]);
    expect(requests(fake, 'GET').map((r) => r.query.get('page') ?? '1')).toEqual(['1', '2', '3']);
    expect(requests(fake, 'POST')).toHaveLength(0);
    const [put] = requests(fake, 'PUT');
    expect(put!.path).toBe(`${GITLAB_PROJECT}/hooks/14`);
    // The owner's SSL choice is not Forgeline's business: left out, so left as is.
    expect(put!.body).toEqual({ url: HOOK_URL, ...events, token: SECRET });
    for (const r of fake.received) expect(r.headers['private-token']).toBe(TOKEN);
  });

  it('creates a missing hook with the events and secret token', async () => {
    const hooks = gitLabHooks(3);
    const fake = await fakeGitLab({ hooks, branches: [], signing: false });
    expect(await ensureGitLabHook(gitLabRepo(fake), { url: HOOK_URL, secret: SECRET })).toEqual({ id: '500', created: true });
    expect(requests(fake, 'GET')).toHaveLength(2);
    expect(requests(fake, 'POST')[0]!.body).toEqual({ url: HOOK_URL, ...events, token: SECRET });
  });

  it('sends a whsec_ secret as the signing token, never in clear as the secret token', async () => {
    const signingSecret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    const fake = await fakeGitLab({ hooks: [], branches: [], signing: true });
    expect(await ensureGitLabHook(gitLabRepo(fake), { url: HOOK_URL, secret: signingSecret })).toEqual({ id: '500', created: true });
    expect(requests(fake, 'POST')[0]!.body).toEqual({ url: HOOK_URL, ...events, signing_token: signingSecret });
  });

  it('refuses, saying what to change, when GitLab ignores the signing token', async () => {
    const signingSecret = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
    const fake = await fakeGitLab({ hooks: [], branches: [], signing: false });
    const err = await rejection(ensureGitLabHook(gitLabRepo(fake), { url: HOOK_URL, secret: signingSecret }));
    expect(err).toBeInstanceOf(PermanentReportError);
    expect(err.message).toContain('register a secret that does not start with whsec_');
    expect(err.message).not.toContain(signingSecret);
  });

  it('reports 403 as permanent with GitLab\'s words, 429 and 5xx as worth retrying', async () => {
    let reply: Reply = { status: 403, body: { message: '403 Forbidden' } };
    const fake = await fakeForge(() => reply);
    const repo = gitLabRepo(fake);
    const forbidden = await rejection(ensureGitLabHook(repo, { url: HOOK_URL, secret: SECRET }));
    expect(forbidden).toBeInstanceOf(PermanentReportError);
    expect(forbidden.message).toContain('GitLab answered 403 to GET /api/v4/projects/platform%2Fci%2Fwidgets/hooks: 403 Forbidden (managing webhooks needs the Maintainer role');

    reply = { status: 422, body: { message: { url: ['is blocked: Requests to the local network are not allowed'] } } };
    expect((await rejection(ensureGitLabHook(repo, { url: HOOK_URL, secret: SECRET }))).message).toContain('url is blocked: Requests to the local network are not allowed');

    for (const status of [429, 500]) {
      reply = { status, body: { message: 'try later' } };
      const err = await rejection(gitLabBranchHeads(repo));
      expect(err).not.toBeInstanceOf(PermanentReportError);
      expect(err.status).toBe(status);
    }
  });
});

describe('GitLab branch heads', () => {
  it('lists every branch with its head commit, following the Link header', async () => {
    const branches = ['main', 'develop', 'feat/x'].map((name, i) => ({ name, commit: { id: `${i + 1}`.repeat(40), short_id: 'x' }, merged: false }));
    const fake = await fakeGitLab({ hooks: [], branches, signing: false });
    expect(await gitLabBranchHeads(gitLabRepo(fake))).toEqual(branches.map((b) => ({ branch: b.name, sha: b.commit.id })));
    expect(requests(fake, 'GET').map((r) => r.query.get('page') ?? '1')).toEqual(['1', '2']);
  });
});

// ---------------------------------------------------------------- Gitea

/**
 * Gitea: `limit` capped (MAX_RESPONSE_ITEMS), the hook list with X-Total-Count
 * and no Link header, the branch list with both, its Link built from a
 * ROOT_URL that is not the address the client uses.
 */
async function fakeGitea(state: { hooks: any[]; branches: any[] }) {
  let nextId = 70;
  const root = '/api/v1/repos/gitea-org/widgets';
  return fakeForge((req): Reply => {
    if (req.headers.authorization !== `token ${TOKEN}`) return { status: 401, body: { message: 'token is required' } };
    const page = Number(req.query.get('page') ?? '1');
    if (req.method === 'GET' && req.path === `${root}/hooks`) {
      return { status: 200, body: slice(state.hooks, page).items, headers: { 'x-total-count': String(state.hooks.length) } };
    }
    if (req.method === 'POST' && req.path === `${root}/hooks`) {
      const { secret: _secret, ...config } = req.body.config;
      const hook = { id: nextId++, type: req.body.type, active: req.body.active, events: req.body.events, config };
      state.hooks.push(hook);
      return { status: 201, body: hook };
    }
    const patch = /^\/api\/v1\/repos\/gitea-org\/widgets\/hooks\/(\d+)$/.exec(req.path);
    if (req.method === 'PATCH' && patch) {
      const hook = state.hooks.find((h) => h.id === Number(patch[1]));
      if (!hook) return { status: 404, body: { message: 'Not Found' } };
      const { secret: _secret, ...config } = req.body.config;
      Object.assign(hook, { active: req.body.active, events: req.body.events, config });
      return { status: 200, body: hook };
    }
    if (req.method === 'GET' && req.path === `${root}/branches`) {
      const { items, more } = slice(state.branches, page);
      const headers: Record<string, string> = { 'x-total-count': String(state.branches.length) };
      if (more) headers.link = `<https://gitea.example.invalid${root}/branches?limit=50&page=${page + 1}>; rel="next"`;
      return { status: 200, body: items, headers };
    }
    throw new Error(`unexpected ${req.method} ${req.path}`);
  });
}

function giteaRepo(fake: Fake): RepoAccess {
  return { name: 'gitea-org/widgets', apiUrl: fake.base, token: TOKEN };
}

function giteaHooks(count: number): any[] {
  return Array.from({ length: count }, (_, i) => ({ id: 30 + i, type: 'gitea', active: true, events: ['push'], config: { url: `https://other.example/${i}`, content_type: 'form' } }));
}

describe('Gitea webhooks', () => {
  const events = ['push', 'pull_request', 'pull_request_sync', 'delete'];

  it('updates the hook with the same URL on the last page (X-Total-Count, capped pages), keeping the owner\'s filter and header', async () => {
    const hooks = giteaHooks(4);
    hooks.push({ id: 34, type: 'gitea', active: false, events: ['push'], branch_filter: 'main', authorization_header: 'Bearer proxy-pass', config: { url: HOOK_URL, content_type: 'form' } });
    const fake = await fakeGitea({ hooks, branches: [] });

    expect(await ensureGiteaHook(giteaRepo(fake), { url: HOOK_URL, secret: SECRET })).toEqual({ id: '34', created: false });

    expect(fake.violations).toEqual([]);
    // Asked for 50 a page, given 2: the total says there is more.
    expect(requests(fake, 'GET').map((r) => `${r.query.get('page')}/${r.query.get('limit')}`)).toEqual(['1/50', '2/50', '3/50']);
    expect(requests(fake, 'POST')).toHaveLength(0);
    const [patch] = requests(fake, 'PATCH');
    expect(patch!.path).toBe('/api/v1/repos/gitea-org/widgets/hooks/34');
    expect(patch!.body).toEqual({
      config: { url: HOOK_URL, content_type: 'json', secret: SECRET }, events, active: true, branch_filter: 'main', authorization_header: 'Bearer proxy-pass',
    });
    for (const r of fake.received) expect(r.headers.authorization).toBe(`token ${TOKEN}`);
  });

  it('creates a missing hook of type gitea with JSON content, the events and the secret', async () => {
    const hooks = giteaHooks(5);
    const fake = await fakeGitea({ hooks, branches: [] });
    expect(await ensureGiteaHook(giteaRepo(fake), { url: HOOK_URL, secret: SECRET })).toEqual({ id: '70', created: true });
    expect(requests(fake, 'GET')).toHaveLength(3);
    expect(requests(fake, 'POST')[0]!.body).toEqual({ type: 'gitea', config: { url: HOOK_URL, content_type: 'json', secret: SECRET }, events, active: true });
    expect(await ensureGiteaHook(giteaRepo(fake), { url: HOOK_URL, secret: SECRET })).toEqual({ id: '70', created: false });
    expect(requests(fake, 'POST')).toHaveLength(1);
  });

  it('reads a list that old versions answer at once, without paging headers', async () => {
    const hooks = [...giteaHooks(3), { id: 99, type: 'gitea', active: true, events: ['push'], config: { url: HOOK_URL, content_type: 'json' } }];
    const fake = await fakeForge((req) => (req.method === 'GET' ? { status: 200, body: hooks } : { status: 200, body: hooks[3] }));
    expect(await ensureGiteaHook(giteaRepo(fake), { url: HOOK_URL, secret: SECRET })).toEqual({ id: '99', created: false });
    expect(requests(fake, 'GET')).toHaveLength(1);
  });
});

describe('Gitea branch heads', () => {
  it('lists every branch with its head commit, paging on its own address whatever ROOT_URL the Link names', async () => {
    const branches = ['main', 'dev', 'a', 'b', 'c'].map((name, i) => ({ name, commit: { id: `${i}`.repeat(40), message: 'm' }, protected: false }));
    const fake = await fakeGitea({ hooks: [], branches });
    expect(await giteaBranchHeads(giteaRepo(fake))).toEqual(branches.map((b) => ({ branch: b.name, sha: b.commit.id })));
    expect(requests(fake, 'GET').map((r) => r.query.get('page'))).toEqual(['1', '2', '3']);
  });
});

// ---------------------------------------------------------------- Bitbucket Cloud

/** Bitbucket Cloud: paged objects with the next page's full URL in `next`. */
async function fakeBitbucket(state: { hooks: any[]; branches: any[] }) {
  const root = '/2.0/repositories/acme/widgets';
  let created = 0;
  const paged = (fake: Fake, path: string, items: any[], page: number) => {
    const { items: values, more } = slice(items, page);
    return { status: 200, body: { pagelen: PAGE, page, size: items.length, values, ...(more ? { next: `${fake.base}${path}?page=${page + 1}` } : {}) } };
  };
  return fakeForge((req, fake): Reply => {
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return { status: 401, body: { type: 'error', error: { message: 'Access token expired.' } } };
    const page = Number(req.query.get('page') ?? '1');
    if (req.method === 'GET' && req.path === `${root}/hooks`) return paged(fake, req.path, state.hooks, page);
    if (req.method === 'POST' && req.path === `${root}/hooks`) {
      const { secret: _secret, ...rest } = req.body;
      const hook = { type: 'webhook_subscription', uuid: `{0000000${created++}-aaaa-bbbb-cccc-dddddddddddd}`, subject_type: 'repository', secret_set: true, ...rest };
      state.hooks.push(hook);
      return { status: 201, body: hook };
    }
    const put = /^\/2\.0\/repositories\/acme\/widgets\/hooks\/([^/]+)$/.exec(req.path);
    if (req.method === 'PUT' && put) {
      const hook = state.hooks.find((h) => h.uuid === decodeURIComponent(put[1]!));
      if (!hook) return { status: 404, body: { type: 'error', error: { message: 'Resource not found' } } };
      const { secret: _secret, ...rest } = req.body;
      Object.assign(hook, rest, { secret_set: true });
      return { status: 200, body: hook };
    }
    if (req.method === 'GET' && req.path === `${root}/refs/branches`) return paged(fake, req.path, state.branches, page);
    throw new Error(`unexpected ${req.method} ${req.path}`);
  });
}

function bitbucketRepo(fake: Fake): RepoAccess {
  return { name: 'acme/widgets', apiUrl: fake.base, token: TOKEN };
}

function bitbucketHooks(count: number): any[] {
  return Array.from({ length: count }, (_, i) => ({
    type: 'webhook_subscription', uuid: `{1111111${i}-aaaa-bbbb-cccc-dddddddddddd}`, url: `https://other.example/${i}`, description: 'other', active: true, events: ['repo:push'], secret_set: false,
  }));
}

describe('Bitbucket Cloud webhooks', () => {
  const events = ['repo:push', 'pullrequest:created', 'pullrequest:updated', 'pullrequest:fulfilled', 'pullrequest:rejected'];

  it('updates the hook with the same URL found on the last page (body `next`), never adding a second one', async () => {
    const uuid = '{5e7c3a10-0000-4b1d-9c2a-7f0e5d4c3b2a}';
    const hooks = [...bitbucketHooks(4), { type: 'webhook_subscription', uuid, url: HOOK_URL, description: 'CI', active: false, events: ['repo:push'], secret_set: false }];
    const fake = await fakeBitbucket({ hooks, branches: [] });

    expect(await ensureBitbucketHook(bitbucketRepo(fake), { url: HOOK_URL, secret: SECRET })).toEqual({ id: uuid, created: false });

    expect(fake.violations).toEqual([]);
    expect(requests(fake, 'GET').map((r) => r.query.get('page') ?? '1')).toEqual(['1', '2', '3']);
    expect(requests(fake, 'POST')).toHaveLength(0);
    const [put] = requests(fake, 'PUT');
    expect(put!.path).toBe(`/2.0/repositories/acme/widgets/hooks/${encodeURIComponent(uuid)}`);
    expect(put!.body).toEqual({ description: 'CI', url: HOOK_URL, active: true, events, secret: SECRET });
    for (const r of fake.received) expect(r.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('creates a missing hook with the events and secret', async () => {
    const fake = await fakeBitbucket({ hooks: bitbucketHooks(3), branches: [] });
    const created = await ensureBitbucketHook(bitbucketRepo(fake), { url: HOOK_URL, secret: SECRET });
    expect(created).toEqual({ id: '{00000000-aaaa-bbbb-cccc-dddddddddddd}', created: true });
    expect(requests(fake, 'GET')).toHaveLength(2);
    expect(requests(fake, 'POST')[0]!.body).toEqual({ description: 'Forgeline', url: HOOK_URL, active: true, events, secret: SECRET });
  });

  it('keeps the token on the registered host and refuses a `next` that leads back', async () => {
    const fake = await fakeForge((req) => ({ status: 200, body: { values: [], next: `https://evil.example.invalid${req.path}?page=1` } }));
    const err = await rejection(bitbucketBranchHeads(bitbucketRepo(fake)));
    expect(err.message).toContain('lead back to one already read');
    // Both pages were asked here, not of the host `next` named.
    expect(fake.received.map((r) => r.query.get('page'))).toEqual([null, '1']);
  });

  it('reports Bitbucket\'s error message', async () => {
    const fake = await fakeForge(() => ({ status: 403, body: { type: 'error', error: { message: 'Your credentials lack one or more required privilege scopes.', detail: { required: ['webhook'] } } } }));
    const err = await rejection(ensureBitbucketHook(bitbucketRepo(fake), { url: HOOK_URL, secret: SECRET }));
    expect(err).toBeInstanceOf(PermanentReportError);
    expect(err.message).toContain('Your credentials lack one or more required privilege scopes.');
  });
});

describe('Bitbucket Cloud branch heads', () => {
  it('lists every branch with its head commit across pages', async () => {
    const branches = ['main', 'dev', 'hotfix'].map((name, i) => ({ type: 'branch', name, target: { type: 'commit', hash: `${i + 4}`.repeat(40) } }));
    const fake = await fakeBitbucket({ hooks: [], branches });
    expect(await bitbucketBranchHeads(bitbucketRepo(fake))).toEqual(branches.map((b) => ({ branch: b.name, sha: b.target.hash })));
    expect(requests(fake, 'GET')).toHaveLength(2);
  });
});

// ---------------------------------------------------------------- Bitbucket Data Center

/** Data Center under a context path: paged objects with isLastPage and nextPageStart. */
async function fakeBitbucketServer(state: { hooks: any[]; branches: any[] }) {
  const root = '/bitbucket/rest/api/latest/projects/PLAT/repos/widgets';
  let nextId = 900;
  const paged = (items: any[], start: number) => {
    const values = items.slice(start, start + PAGE);
    const isLastPage = start + PAGE >= items.length;
    return { status: 200, body: { size: values.length, limit: PAGE, start, isLastPage, values, ...(isLastPage ? {} : { nextPageStart: start + PAGE }) } };
  };
  return fakeForge((req): Reply => {
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return { status: 401, body: { errors: [{ message: 'Authentication failed.' }] } };
    const start = Number(req.query.get('start') ?? '0');
    if (req.method === 'GET' && req.path === `${root}/webhooks`) return paged(state.hooks, start);
    if (req.method === 'POST' && req.path === `${root}/webhooks`) {
      const hook = { id: nextId++, createdDate: 1, updatedDate: 1, ...req.body };
      state.hooks.push(hook);
      return { status: 201, body: hook };
    }
    const put = /^\/bitbucket\/rest\/api\/latest\/projects\/PLAT\/repos\/widgets\/webhooks\/(\d+)$/.exec(req.path);
    if (req.method === 'PUT' && put) {
      const hook = state.hooks.find((h) => h.id === Number(put[1]));
      if (!hook) return { status: 404, body: { errors: [{ message: 'No webhook with id' }] } };
      Object.assign(hook, req.body);
      return { status: 200, body: hook };
    }
    if (req.method === 'GET' && req.path === `${root}/branches`) return paged(state.branches, start);
    throw new Error(`unexpected ${req.method} ${req.path}`);
  });
}

function bitbucketServerRepo(fake: Fake): RepoAccess {
  return { name: 'PLAT/widgets', apiUrl: `${fake.base}/bitbucket`, token: TOKEN };
}

function dataCenterHooks(count: number): any[] {
  return Array.from({ length: count }, (_, i) => ({ id: 50 + i, name: `other ${i}`, url: `https://other.example/${i}`, active: true, events: ['repo:refs_changed'], configuration: {} }));
}

describe('Bitbucket Data Center webhooks', () => {
  const events = ['repo:refs_changed', 'pr:opened', 'pr:from_ref_updated', 'pr:modified', 'pr:merged', 'pr:declined', 'pr:deleted'];

  it('updates the hook with the same URL found on the last page (nextPageStart), never adding a second one', async () => {
    const hooks = [...dataCenterHooks(4), {
      id: 54, name: 'CI', url: HOOK_URL, active: false, events: ['repo:refs_changed'], sslVerificationRequired: false, configuration: { createdBy: 'admin' },
    }];
    const fake = await fakeBitbucketServer({ hooks, branches: [] });

    expect(await ensureBitbucketServerHook(bitbucketServerRepo(fake), { url: HOOK_URL, secret: SECRET })).toEqual({ id: '54', created: false });

    expect(fake.violations).toEqual([]);
    expect(requests(fake, 'GET').map((r) => r.query.get('start'))).toEqual(['0', '2', '4']);
    expect(requests(fake, 'POST')).toHaveLength(0);
    const [put] = requests(fake, 'PUT');
    expect(put!.path).toBe('/bitbucket/rest/api/latest/projects/PLAT/repos/widgets/webhooks/54');
    expect(put!.body).toEqual({
      name: 'CI', url: HOOK_URL, active: true, events, configuration: { createdBy: 'admin', secret: SECRET }, sslVerificationRequired: false,
    });
    for (const r of fake.received) expect(r.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('creates a missing hook with the events and configuration.secret', async () => {
    const fake = await fakeBitbucketServer({ hooks: dataCenterHooks(3), branches: [] });
    expect(await ensureBitbucketServerHook(bitbucketServerRepo(fake), { url: HOOK_URL, secret: SECRET })).toEqual({ id: '900', created: true });
    expect(requests(fake, 'GET')).toHaveLength(2);
    expect(requests(fake, 'POST')[0]!.body).toEqual({ name: 'Forgeline', url: HOOK_URL, active: true, events, configuration: { secret: SECRET } });
  });

  it('reports Data Center\'s error messages, and needs an API URL', async () => {
    const fake = await fakeForge(() => ({ status: 401, body: { errors: [{ context: null, message: 'Authentication failed. Please check your credentials and try again.', exceptionName: 'x' }] } }));
    const err = await rejection(ensureBitbucketServerHook(bitbucketServerRepo(fake), { url: HOOK_URL, secret: SECRET }));
    expect(err).toBeInstanceOf(PermanentReportError);
    expect(err.message).toContain('Bitbucket Data Center answered 401 to GET /bitbucket/rest/api/latest/projects/PLAT/repos/widgets/webhooks: Authentication failed.');
    expect(await rejection(bitbucketServerBranchHeads({ name: 'PLAT/widgets', apiUrl: '', token: TOKEN }))).toBeInstanceOf(PermanentReportError);
  });
});

describe('Bitbucket Data Center branch heads', () => {
  it('lists every branch with its head commit across pages, in a stable order', async () => {
    const branches = ['main', 'develop', 'feature/x', 'release/2'].map((name, i) => ({
      id: `refs/heads/${name}`, displayId: name, type: 'BRANCH', latestCommit: `${i + 1}`.repeat(40), latestChangeset: `${i + 1}`.repeat(40), isDefault: i === 0,
    }));
    const fake = await fakeBitbucketServer({ hooks: [], branches });
    expect(await bitbucketServerBranchHeads(bitbucketServerRepo(fake))).toEqual(branches.map((b) => ({ branch: b.displayId, sha: b.latestCommit })));
    const gets = requests(fake, 'GET');
    expect(gets.map((r) => r.query.get('start'))).toEqual(['0', '2']);
    expect(gets[0]!.query.get('orderBy')).toBe('ALPHABETICAL');
  });
});
