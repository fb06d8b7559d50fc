import { execa, type ResultPromise } from 'execa';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forgelineCli } from './helpers/cli.ts';

const bin = fileURLToPath(new URL('../bin/forgeline.js', import.meta.url));

/** Starts `forgeline serve` and resolves with its port once it says it listens. */
async function serve(env: NodeJS.ProcessEnv): Promise<{ child: ResultPromise; port: number }> {
  const child = execa(process.execPath, [bin, 'serve', '--port', '0', '--workers', '1'], { env, extendEnv: false, reject: false });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening on http:\/\/localhost:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.then((r) => reject(new Error(`serve exited: ${r.stderr || r.stdout}`)));
  });
  return { child, port };
}

describe('the CLI on an embedded PostgreSQL (no DATABASE_URL)', () => {
  let dataDir: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'forgeline-cli-'));
    await chmod(dataDir, 0o755);
    env = { PATH: process.env.PATH, FORGELINE_DATA_DIR: dataDir, FORGELINE_ALLOW_LOCAL: 'true', LOG_LEVEL: 'warn' };
  });

  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('serves, shares its database with CLI commands, and keeps it across restarts', async () => {
    const first = await serve(env);
    const ready = await fetch(`http://127.0.0.1:${first.port}/readyz`);
    expect(ready.status).toBe(200);

    const add = await forgelineCli(['repo', 'add', '--forge', 'github', '--name', 'acme/kept', '--clone-url', 'file:///srv/acme.git', '--api-url', 'http://127.0.0.1:1/api/v3'], env);
    expect(add.stderr).toBe('');
    const registered = JSON.parse(add.stdout);
    expect(registered.hookUrl).toMatch(/\/hooks\/[A-Za-z0-9_-]{32}$/);

    // The running server knows the hook the CLI just registered: same database.
    const hook = await fetch(`http://127.0.0.1:${first.port}${new URL(registered.hookUrl).pathname}`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-github-event': 'ping' }, body: '{}',
    });
    expect(hook.status).toBe(401);

    first.child.kill('SIGTERM');
    expect((await first.child).exitCode).toBe(0);
    expect(existsSync(path.join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);

    // With no server running, the CLI starts the cluster itself and finds the repository.
    const list = await forgelineCli(['repo', 'list', '--json'], env);
    expect(JSON.parse(list.stdout).map((r: { name: string }) => r.name)).toEqual(['acme/kept']);

    const second = await serve(env);
    const again = await fetch(`http://127.0.0.1:${second.port}${new URL(registered.hookUrl).pathname}`, { method: 'GET' });
    expect(again.status).toBe(405);
    expect(again.headers.get('allow')).toBe('POST');
    second.child.kill('SIGTERM');
    expect((await second.child).exitCode).toBe(0);
  }, 120_000);

  it('refuses a file:// clone URL unless FORGELINE_ALLOW_LOCAL=true, with a clear error', async () => {
    const add = await forgelineCli(['repo', 'add', '--forge', 'github', '--name', 'acme/local', '--clone-url', 'file:///srv/x.git'], { ...env, FORGELINE_ALLOW_LOCAL: 'false' });
    expect(add.exitCode).toBe(1);
    expect(add.stderr).toContain('file:// URLs need FORGELINE_ALLOW_LOCAL=true');
  }, 60_000);
});
