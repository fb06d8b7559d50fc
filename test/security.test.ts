import { execa } from 'execa';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfig } from '../cli/config.ts';
import { createCheckout, ensureCommit, git } from '../git/index.ts';
import { providerFor } from '../providers/index.ts';
import { addToken } from '../scheduler/index.ts';
import { registerRepo, type UrlPolicy } from '../ingest/index.ts';
import { apiRoutes } from '../server/api.ts';
import { startBench, type Bench } from './helpers/engine.ts';
import { createTestRepo, type TestRepo } from './helpers/git-repo.ts';

const ROLES = ['read', 'write', 'approve', 'admin'] as const;

describe('API roles: each token is refused what its role may not do', () => {
  let b: Bench;
  let doc: any;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    // No anonymous reads: every operation needs a token.
    b = await startBench('acme/roles', { workers: 0, env: { FORGELINE_PUBLIC_READ: 'false', FORGELINE_API_TOKEN: 'bootstrap-admin' } });
    for (const role of ROLES) tokens[role] = (await addToken(b.forgeline.runtime.db.pool, `${role}-token`, role, 'test')).token;
    doc = (await b.api('/openapi.json')).body;
  });
  afterAll(() => b?.stop());

  const operations = () => Object.entries(doc.paths as Record<string, Record<string, any>>)
    .flatMap(([template, ops]) => Object.entries(ops).map(([method, op]) => ({ method: method.toUpperCase(), template, role: op['x-forgeline-role'] as string })));

  it('documents the least role of every route the API serves', () => {
    const served = apiRoutes(b.forgeline.runtime.deps, { apiToken: undefined, publicRead: false }, b.forgeline.config.urls).stack
      .flatMap((layer) => layer.methods.filter((m) => m !== 'HEAD').map((m) => `${m} ${String(layer.path).replace(/:(\w+)/g, '{$1}')}`))
      .filter((route) => !route.includes('(.*)'));
    const documented = operations().map((o) => `${o.method} ${o.template}`);
    expect(served.length).toBeGreaterThanOrEqual(19);
    expect(served.filter((r) => !documented.includes(r))).toEqual([]);
    expect(operations().filter((o) => !ROLES.includes(o.role as never))).toEqual([]);
  });

  it('answers 401 without a token, 403 to every lesser role and lets the least role through', async () => {
    // Nothing named here exists: the answer past the role check is a 4xx of its own, and nothing changes.
    const values: Record<string, string> = { id: '999999', name: 'nothing' };
    const bodies: Record<string, unknown> = { '/api/repos': { forge: 'github' }, '/api/trigger': { repo: 'acme/none', ref: 'main' }, '/api/repos/{id}/sources': { name: 'x', auth: 'bearer' } };
    const seen: string[] = [];
    for (const op of operations()) {
      const path = op.template.replace(/\{(\w+)\}/g, (_, k: string) => values[k]!);
      const call = async (token?: string) => (await fetch(`${b.forgeline.url}${path}`, {
        method: op.method,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
        body: op.method === 'GET' ? undefined : JSON.stringify(bodies[op.template] ?? {}),
      })).status;
      const what = `${op.method} ${op.template}`;
      expect(await call(), `${what} without a token`).toBe(401);
      expect(await call('flt_not-a-token'), `${what} with an unknown token`).toBe(401);
      const rank = ROLES.indexOf(op.role as never);
      for (const lesser of ROLES.slice(0, rank)) expect(await call(tokens[lesser]), `${what} as ${lesser}`).toBe(403);
      for (const enough of ROLES.slice(rank)) expect([401, 403], `${what} as ${enough}`).not.toContain(await call(tokens[enough]));
      seen.push(`${what} ${op.role}`);
    }
    // The roles the API is known to need, as docs/api.md gives them.
    expect(seen).toEqual(expect.arrayContaining([
      'POST /api/repos admin', 'POST /api/repos/{id}/rotate-secret admin', 'POST /api/repos/{id}/sources admin', 'DELETE /api/repos/{id}/sources/{name} admin',
      'POST /api/runs/{id}/stages/{name}/approve approve', 'POST /api/runs/{id}/cancel write', 'POST /api/runs/{id}/rerun write',
      'POST /api/trigger write', 'POST /api/deliveries/{id}/replay write', 'GET /api/runs read', 'GET /api/deliveries read',
    ]));
    // Nothing was registered or rotated by the refused calls.
    expect((await b.api('/repos', { token: tokens.read })).body.items.map((r: any) => r.name)).toEqual([b.name]);
  }, 60_000);
});

describe('SSRF: API and clone URLs outside FORGELINE_ALLOWED_HOSTS', () => {
  let b: Bench;
  beforeAll(async () => {
    b = await startBench('acme/ssrf', { workers: 0, env: { FORGELINE_API_TOKEN: 'bootstrap-admin' } });
  });
  afterAll(() => b?.stop());

  it('reads the allowed hosts from FORGELINE_ALLOWED_HOSTS, and the public forges when it is unset', () => {
    expect(readConfig({ FORGELINE_ALLOWED_HOSTS: 'git.corp.example, *.forge.corp.example' }).urls)
      .toEqual({ allowedHosts: ['git.corp.example', '*.forge.corp.example'], allowLocal: false });
    expect(readConfig({}).urls.allowedHosts).toContain('api.github.com');
  });

  it('refuses a size or interval setting that is not a whole number in range, rather than reading it as no limit', () => {
    expect(readConfig({}).artifactMaxBytes).toBe(100 * 1024 * 1024);
    expect(readConfig({ FORGELINE_ARTIFACT_MAX_BYTES: '1048576', FORGELINE_SCHEDULE_CHECK_SECONDS: '1' })).toMatchObject({ artifactMaxBytes: 1048576, scheduleCheckSeconds: 1 });
    expect(() => readConfig({ FORGELINE_ARTIFACT_MAX_BYTES: '100MB' })).toThrow("FORGELINE_ARTIFACT_MAX_BYTES must be a whole number from 1 to 9007199254740991, not '100MB'");
    expect(() => readConfig({ FORGELINE_SCHEDULE_CHECK_SECONDS: '60' })).toThrow('FORGELINE_SCHEDULE_CHECK_SECONDS must be a whole number from 1 to 45');
  });

  it('refuses internal, loopback, file and other-scheme URLs through registration, and lets allowed hosts through', async () => {
    const deps = (urls: UrlPolicy) => ({ pool: b.forgeline.runtime.db.pool, box: b.forgeline.runtime.deps.box, publicUrl: b.forgeline.url, urls });
    const corp: UrlPolicy = { allowedHosts: ['git.corp.example', '*.forge.corp.example'], allowLocal: false };
    const add = (name: string, apiUrl: string, cloneUrl: string) => registerRepo(deps(corp), { forge: 'gitea', name, apiUrl, cloneUrl }, 'test');
    const ok = 'https://git.corp.example/acme/app.git';
    await expect(add('acme/meta', 'http://169.254.169.254/latest/meta-data', ok)).rejects.toThrow(/API URL .*host 169\.254\.169\.254 is not in FORGELINE_ALLOWED_HOSTS/);
    await expect(add('acme/intranet', 'https://git.corp.example/api/v1', 'https://wiki.corp.example/x.git')).rejects.toThrow(/clone URL .*wiki\.corp\.example is not in FORGELINE_ALLOWED_HOSTS/);
    await expect(add('acme/loop', 'http://127.0.0.1:2375/api/v1', ok)).rejects.toThrow(/loopback URLs need FORGELINE_ALLOW_LOCAL=true/);
    await expect(add('acme/local6', 'http://[::1]/api/v1', ok)).rejects.toThrow(/loopback/);
    await expect(add('acme/file', 'https://git.corp.example/api/v1', 'file:///etc/passwd')).rejects.toThrow(/file:\/\/ URLs need FORGELINE_ALLOW_LOCAL=true/);
    await expect(add('acme/gopher', 'gopher://git.corp.example/', ok)).rejects.toThrow(/only http\(s\) URLs/);
    // Case games do not slip past the list; a suffix that only looks alike is not a subdomain.
    await expect(add('acme/suffix', 'https://git.corp.example.evil.test/api/v1', ok)).rejects.toThrow(/not in FORGELINE_ALLOWED_HOSTS/);
    await expect(add('acme/case', 'https://GIT.CORP.EXAMPLE/api/v1', 'https://Build.Forge.Corp.Example/acme/app.git')).resolves.toMatchObject({ hookUrl: expect.any(String) });
    const { rows } = await b.forgeline.runtime.db.pool.query(`SELECT name FROM repos WHERE name LIKE 'acme/%' ORDER BY name`);
    expect(rows.map((r) => r.name)).toEqual(['acme/case', 'acme/ssrf']);
  });

  it('answers 400 with the reason through POST /api/repos and stores nothing', async () => {
    const res = await b.api('/repos', { token: 'bootstrap-admin', body: { forge: 'github', name: 'acme/metadata', apiUrl: 'http://169.254.169.254/', cloneUrl: 'https://github.com/acme/metadata.git' } });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(/host 169\.254\.169\.254 is not in FORGELINE_ALLOWED_HOSTS/);
    expect((await b.api('/repos', { token: 'bootstrap-admin' })).body.items.map((r: any) => r.name)).not.toContain('acme/metadata');
  });
});

describe('git in the mirror and the checkout', () => {
  let scratch: string;
  let repo: TestRepo;
  beforeAll(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'forgeline-git-security-'));
    repo = await createTestRepo();
  });
  afterAll(() => rm(scratch, { recursive: true, force: true }));

  /** Hooks that leave a mark when git runs them, as planted by someone who could write there. */
  async function plantHooks(hooksDir: string, mark: string) {
    await mkdir(hooksDir, { recursive: true });
    for (const hook of ['reference-transaction', 'post-checkout', 'post-merge', 'post-rewrite', 'pre-auto-gc']) {
      await writeFile(path.join(hooksDir, hook), `#!/bin/sh\necho ${hook} >> ${mark}\n`, { mode: 0o755 });
    }
  }

  it('never runs a hook planted in the mirror or the checkout', async () => {
    const mirror = path.join(scratch, 'mirror.git');
    const mark = path.join(scratch, 'hooks-ran');
    const first = await repo.commit({ 'a.txt': 'one' });
    await ensureCommit(mirror, { cloneUrl: repo.cloneUrl }, first);
    await plantHooks(path.join(mirror, 'hooks'), mark);
    // The planted hooks work: git as people usually run it does run them.
    await execa('git', ['update-ref', 'refs/control', first], { cwd: mirror });
    expect(await readFile(mark, 'utf8')).toContain('reference-transaction');
    await rm(mark);

    const second = await repo.commit({ 'a.txt': 'two' });
    expect(await ensureCommit(mirror, { cloneUrl: repo.cloneUrl }, second)).toBe(second);
    const checkout = path.join(scratch, 'checkout');
    await createCheckout(mirror, second, checkout);
    await plantHooks(path.join(checkout, '.git', 'hooks'), mark);
    await createCheckout(mirror, first, checkout);
    await createCheckout(mirror, second, path.join(scratch, 'independent'), { independent: true });
    expect(existsSync(mark)).toBe(false);
  });

  it('keeps forge credentials out of the mirror and the checkout: given per command, stored nowhere', async () => {
    const token = 'ghs_credentialThatMustNotBeStored';
    const authConfig = providerFor('github')!.credentials.gitAuthConfig({ name: 'acme/app', apiUrl: 'https://api.github.com', token });
    expect(authConfig.join(' ')).toMatch(/extraHeader/i);
    const mirror = path.join(scratch, 'cred-mirror.git');
    const sha = await repo.commit({ 'b.txt': 'b' });
    await ensureCommit(mirror, { cloneUrl: repo.cloneUrl, authConfig }, sha);
    const checkout = path.join(scratch, 'cred-checkout');
    await createCheckout(mirror, sha, checkout);
    // Every file git keeps, in both: no token, in clear or in the base64 of a Basic header.
    const forms = [token, Buffer.from(`x-access-token:${token}`).toString('base64'), Buffer.from(token).toString('base64')];
    const { stdout } = await execa('grep', ['-rlF', ...forms.flatMap((f) => ['-e', f]), mirror, path.join(checkout, '.git')], { reject: false });
    expect(stdout).toBe('');
  });

  it('gives git the credentials in its environment, never on its command line, which every user can read', async () => {
    const token = 'ghs_credentialNoOtherUserMayRead';
    const authConfig = providerFor('github')!.credentials.gitAuthConfig({ name: 'acme/app', apiUrl: 'https://api.github.com', token });
    const basic = Buffer.from(`x-access-token:${token}`).toString('base64');
    // A forge that holds git's request open while it looks at every command line on the machine.
    const seen: { authorization?: string; cmdlines: string[] } = { cmdlines: [] };
    const server = createServer((req, res) => {
      seen.authorization ??= req.headers.authorization;
      for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
        try {
          const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
          if (cmdline.includes(token) || cmdline.includes(basic)) seen.cmdlines.push(cmdline.replace(/\0/g, ' '));
        } catch {
          // Gone meanwhile.
        }
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/acme/app.git`;
      await expect(git(['ls-remote', url], { config: authConfig })).rejects.toThrow(/ls-remote failed/);
    } finally {
      server.close();
    }
    // git sent them, so it had them; no process showed them.
    expect(seen.authorization).toBe(`Basic ${basic}`);
    expect(seen.cmdlines).toEqual([]);
  });
});

describe('event data reaches a step only through variables', () => {
  let b: Bench;
  let scratch: string;
  beforeAll(async () => {
    b = await startBench('acme/injection', { workers: 1 });
    scratch = await mkdtemp(path.join(tmpdir(), 'forgeline-injection-'));
  });
  afterAll(async () => {
    await b?.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  it('runs a hostile commit message and branch name as text, never as a command', async () => {
    const pwned = (n: number) => path.join(scratch, `pwned-${n}`);
    const message = `fix $(touch ${pwned(1)}) \`touch ${pwned(2)}\` '; touch ${pwned(3)}; echo '`;
    const branch = `x$(touch\${IFS}${pwned(4)})`;
    const { runs: [id] } = await b.push({
      '.forgeline/ci.yml': 'on: { push: {} }\nstages:\n  show:\n    steps:\n      - run: echo "message=$FORGELINE_COMMIT_MESSAGE"\n      - run: echo "branch=$FORGELINE_BRANCH"\n',
    }, { message, branch });
    expect((await b.finished(id!)).status).toBe('success');
    const log = (await b.api(`/runs/${id}/stages/show/log`)).body as string;
    expect(log).toContain(`message=${message}`);
    expect(log).toContain(`branch=${branch}`);
    for (const n of [1, 2, 3, 4]) expect(existsSync(pwned(n)), `pwned-${n}`).toBe(false);
  }, 60_000);
});
