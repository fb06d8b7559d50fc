// `forgeline serve` as a new user starts it: no DATABASE_URL, no token, an empty
// HOME, from inside a repository; then the CLI in another shell, and Ctrl-C.
import { execa, type ResultPromise } from 'execa';
import { existsSync, statSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forgelineCli } from './helpers/cli.ts';

const bin = fileURLToPath(new URL('../bin/forgeline.js', import.meta.url));

interface Served { child: ResultPromise; port: number; out: () => string }

/** Starts `forgeline serve` in a process group of its own, as a shell does, and resolves once it listens. */
async function serve(env: NodeJS.ProcessEnv, cwd: string, args: string[] = []): Promise<Served> {
  const child = execa(process.execPath, [bin, 'serve', '--port', '0', '--workers', '1', ...args], { env, extendEnv: false, reject: false, cwd, detached: true });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => { out += chunk.toString(); });
  const listening = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', () => {
      const m = /listening on http:\/\/localhost:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.then((r) => reject(new Error(`serve exited: ${r.stderr || r.stdout}`)));
  });
  // The first-start message follows the listening line in the same write or the next.
  await new Promise((r) => setTimeout(r, 200));
  return { child, port: listening, out: () => out };
}

/** Ctrl-C at a terminal: SIGINT to every process of the foreground group. */
function ctrlC(served: Served): void {
  process.kill(-served.child.pid!, 'SIGINT');
}

describe('serve on an embedded PostgreSQL, and the CLI beside it', () => {
  let scratch: string;
  let env: NodeJS.ProcessEnv;
  let repo: string;
  let dataDir: string;

  beforeAll(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'forgeline-newcomer-'));
    await chmod(scratch, 0o755);
    repo = path.join(scratch, 'widget');
    await mkdir(path.join(repo, '.forgeline'), { recursive: true });
    dataDir = path.join(scratch, 'data', 'forgeline');
    env = {
      PATH: process.env.PATH, HOME: path.join(scratch, 'home'), XDG_DATA_HOME: path.join(scratch, 'data'), XDG_CONFIG_HOME: path.join(scratch, 'config'),
      FORGELINE_ALLOW_LOCAL: 'true', LOG_LEVEL: 'warn',
    };
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('makes an admin token on first start for the CLI, keeps data in XDG_DATA_HOME, and stops cleanly on Ctrl-C', async () => {
    const first = await serve({ ...env, LOG_FORMAT: 'pretty' }, repo);
    // Readable lines for a person: the level in words, no JSON.
    expect(first.out()).toMatch(/^\[[\d:.]+\] WARN: no --run-as: steps run as the worker's own user/m);
    expect(first.out()).not.toMatch(/^\{/m);
    expect(first.out()).toContain('First start: an admin token was created');
    const token = /\b(flt_[A-Za-z0-9_-]+)/.exec(first.out())![1]!;
    const configFile = path.join(scratch, 'config', 'forgeline', 'config.json');
    expect(statSync(configFile).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(configFile, 'utf8'))).toEqual({ server: `http://localhost:${first.port}`, token });
    // The data dir is the XDG one, never the repository's pipeline folder.
    expect(existsSync(path.join(dataDir, 'postgres', 'PG_VERSION'))).toBe(true);
    expect(existsSync(path.join(repo, '.forgeline', 'postgres'))).toBe(false);

    // Another shell: no token in the environment, only the config serve wrote.
    const add = await forgelineCli(['repo', 'add', '--forge', 'github', '--name', 'acme/kept', '--clone-url', 'file:///srv/acme.git', '--api-url', 'http://127.0.0.1:1/api/v3'], env);
    expect([add.exitCode, add.stderr]).toEqual([0, '']);
    const registered = JSON.parse(add.stdout);
    expect(registered.hookUrl).toMatch(new RegExp(`^http://localhost:${first.port}/hooks/[A-Za-z0-9_-]{32}$`));
    const hook = await fetch(`http://127.0.0.1:${first.port}${new URL(registered.hookUrl).pathname}`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-github-event': 'ping' }, body: '{}',
    });
    expect(hook.status).toBe(401);

    // Clear errors, exit 1: a name taken twice, by the server's own words.
    const again = await forgelineCli(['repo', 'add', '--forge', 'github', '--name', 'acme/kept', '--clone-url', 'file:///srv/acme.git', '--api-url', 'http://127.0.0.1:1/api/v3'], env);
    expect([again.exitCode, again.stderr.trim()]).toEqual([1, 'forgeline: github repository acme/kept is already registered']);
    const twice = await forgelineCli(['token', 'add', 'admin', '--role', 'read'], env);
    expect([twice.exitCode, twice.stderr.trim()]).toEqual([1, 'forgeline: a token named admin already exists: revoke it first, or choose another name']);

    // A stage runs while Ctrl-C comes: a person at a terminal waits seconds, not the SIGTERM grace.
    await execa('git', ['init', '-q', '-b', 'main'], { cwd: repo });
    await writeFile(path.join(repo, '.forgeline', 'slow.yml'), 'on: { manual: {} }\nstages:\n  slow:\n    steps: [{ run: "echo begun; sleep 120" }]\n');
    await execa('git', ['add', '-A'], { cwd: repo });
    await execa('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-qm', 'slow'], { cwd: repo });
    expect((await forgelineCli(['repo', 'add', '--forge', 'gitea', '--name', 'acme/slow', '--clone-url', `file://${repo}`, '--api-url', 'http://127.0.0.1:9'], env)).exitCode).toBe(0);
    expect((await forgelineCli(['trigger', '--repo', 'acme/slow', '--ref', 'main'], env)).exitCode).toBe(0);
    for (let i = 0; i < 200 && !(await forgelineCli(['logs', '1', 'slow'], env)).stdout.includes('begun'); i++) await new Promise((r) => setTimeout(r, 100));
    expect((await forgelineCli(['logs', '1', 'slow'], env)).stdout).toContain('begun');

    const started = Date.now();
    ctrlC(first);
    const ended = await first.child;
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(ended.exitCode).toBe(0);
    expect(ended.stderr).not.toMatch(/\n\s+at |Error/);
    // PostgreSQL was shut down by us, not by the terminal's signal: it removed its pid file.
    expect(existsSync(path.join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);
    expect(Date.now() - started).toBeLessThan(10_000);

    // A second start keeps everything and makes no second token.
    const second = await serve({ ...env, LOG_FORMAT: 'json' }, repo, ['--public-url', 'https://ci.example.test/']);
    expect(second.out()).not.toContain('First start');
    expect(JSON.parse(second.out().split('\n').find((line) => line.includes('no --run-as'))!)).toMatchObject({ level: 40, msg: expect.stringContaining('no --run-as') });
    // The saved token belongs to the first server's URL: another URL does not get it.
    const elsewhereUnasked = await forgelineCli(['repo', 'list'], { ...env, FORGELINE_SERVER: `http://localhost:${second.port}` });
    expect([elsewhereUnasked.exitCode, elsewhereUnasked.stderr]).toEqual([1, expect.stringContaining('forgeline: a token is required')]);
    const list = await forgelineCli(['repo', 'list', '--json'], { ...env, FORGELINE_SERVER: `http://localhost:${second.port}`, FORGELINE_TOKEN: token });
    // Hook URLs are the server's own, from its --public-url.
    expect(JSON.parse(list.stdout)).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'acme/kept', hookUrl: `https://ci.example.test${new URL(registered.hookUrl).pathname}` })]));
    // The stage Ctrl-C cut short is failed, saying why: nothing is left running.
    const runs = JSON.parse((await forgelineCli(['runs', '--json'], { ...env, FORGELINE_SERVER: `http://localhost:${second.port}`, FORGELINE_TOKEN: token })).stdout);
    expect(runs).toEqual([expect.objectContaining({ id: 1, status: 'failure' })]);

    // A third serve on the busy port says so and ends before it starts anything.
    const elsewhere = { ...env, XDG_DATA_HOME: path.join(scratch, 'data-busy') };
    const busy = await execa(process.execPath, [bin, 'serve', '--port', String(second.port)], { env: elsewhere, extendEnv: false, reject: false, cwd: repo, timeout: 20_000 });
    expect(busy.exitCode).toBe(1);
    expect(busy.stderr.trim()).toBe(`forgeline: port ${second.port} is in use: stop what listens there, or give --port (or PORT) another port`);
    expect(existsSync(path.join(scratch, 'data-busy', 'forgeline', 'postgres'))).toBe(false);

    second.child.kill('SIGTERM');
    expect((await second.child).exitCode).toBe(0);
  }, 120_000);

  it('says where the server is missing, and what to do', async () => {
    const noServer = await forgelineCli(['runs'], { PATH: process.env.PATH, HOME: path.join(scratch, 'empty-home'), XDG_CONFIG_HOME: path.join(scratch, 'no-config') });
    expect(noServer.exitCode).toBe(1);
    expect(noServer.stderr).toContain('no server to talk to: give --server URL, set FORGELINE_SERVER, or run `forgeline login');
    let server: Server | undefined;
    const port = await new Promise<number>((resolve) => { server = createServer().listen(0, '127.0.0.1', () => resolve((server!.address() as { port: number }).port)); });
    server!.close();
    const down = await forgelineCli(['runs', '--server', `http://127.0.0.1:${port}`], { PATH: process.env.PATH, HOME: path.join(scratch, 'empty-home') });
    expect(down.exitCode).toBe(1);
    expect(down.stderr).toContain(`cannot reach the server at http://127.0.0.1:${port} (ECONNREFUSED)`);
  });
});
