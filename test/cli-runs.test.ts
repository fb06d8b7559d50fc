// The operator's commands through the real `forgeline` process, a client of
// the server's API: login, secrets (repository and environment), environment
// protection, runs and logs, approve, trigger, rerun and cancel.
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addToken } from '../scheduler/index.ts';
import { forgelineCli } from './helpers/cli.ts';
import { startBench, type Bench } from './helpers/engine.ts';
import { waitFor } from './helpers/forgeline.ts';
import { alive, hostPid } from './helpers/process.ts';

describe('forgeline login, secret, env, runs, logs, approve, trigger, rerun and cancel', () => {
  let b: Bench;
  let scratch: string;
  const cli = async (args: string[], input?: string) => {
    const result = await forgelineCli(args, b.forgeline.clientEnv, input);
    expect(result.stderr, args.join(' ')).toBe('');
    expect(result.exitCode, args.join(' ')).toBe(0);
    return result.stdout;
  };

  beforeAll(async () => {
    b = await startBench('acme/operated', { workers: 1 });
    scratch = await mkdtemp(path.join(tmpdir(), 'forgeline-cli-runs-'));
  });
  afterAll(() => b?.stop());

  it('keeps repository and environment secrets, gives the environment\'s to its stage, and never prints a value', async () => {
    await cli(['secret', 'set', 'TOKEN', '--repo', b.name], 'repo-value');
    await cli(['secret', 'set', 'TOKEN', '--repo', b.name, '--env', 'production'], 'environment-value-x');
    await cli(['secret', 'set', 'EXTRA', '--repo', b.name], 'extra-value');
    const listed = await cli(['secret', 'list', '--repo', b.name, '--json']);
    expect(JSON.parse(listed)).toEqual(expect.arrayContaining([
      expect.objectContaining({ name: 'TOKEN', environment: null }), expect.objectContaining({ name: 'TOKEN', environment: 'production' }), expect.objectContaining({ name: 'EXTRA' }),
    ]));
    expect(listed).not.toMatch(/repo-value|environment-value-x|extra-value/);
    expect(JSON.parse(await cli(['env', 'set', 'production', '--repo', b.name, '--branches', 'main']))).toMatchObject({ name: 'production' });
    await cli(['secret', 'remove', 'EXTRA', '--repo', b.name]);
    expect(JSON.parse(await cli(['secret', 'list', '--repo', b.name, '--json'])).map((s: { name: string }) => s.name)).not.toContain('EXTRA');
    expect(await cli(['env', 'list', '--repo', b.name])).toMatch(/^NAME\s+BRANCHES\s+TAGS\s+APPROVAL\s+APPROVERS\s+DEPLOYED\nproduction\s+main\s+\(none\)\s+none\s*$/);

    const { runs: [id] } = await b.push({
      '.forgeline/ci.yml': `on: { push: {} }
stages:
  build:
    secrets: [TOKEN]
    steps: [{ run: 'echo "build token length \${#TOKEN}: $TOKEN"' }]
  deploy:
    needs: [build]
    environment: production
    secrets: [TOKEN]
    steps: [{ run: 'echo "deploy token length \${#TOKEN}: $TOKEN"' }]
`,
    });
    expect((await b.finished(id!)).status).toBe('success');
    expect(await b.log(id!, 'build')).toContain(`build token length ${'repo-value'.length}: ***`);
    expect(await b.log(id!, 'deploy')).toContain(`deploy token length ${'environment-value-x'.length}: ***`);
  });

  it('logs in, keeping the server and token in a config only its user reads; a wrong token is refused', async () => {
    const configHome = path.join(scratch, 'login-config');
    const env = { PATH: process.env.PATH, HOME: scratch, XDG_CONFIG_HOME: configHome };
    const reader = (await addToken(b.forgeline.runtime.db.pool, 'reader', 'read', 'test')).token;
    const wrong = await forgelineCli(['login', '--server', b.forgeline.url, '--token', 'flt_not-a-token'], env);
    expect(wrong.exitCode).toBe(1);
    expect(wrong.stderr).toContain('forgeline login --server');
    expect(existsSync(path.join(configHome, 'forgeline', 'config.json'))).toBe(false);
    const login = await forgelineCli(['login', '--server', `${b.forgeline.url}/`, '--token', reader], env);
    expect([login.exitCode, login.stdout.trim()]).toEqual([0, `logged in to ${b.forgeline.url} as reader (read); saved in ${configHome}/forgeline/config.json`]);
    expect(statSync(path.join(configHome, 'forgeline', 'config.json')).mode & 0o777).toBe(0o600);
    // The token's role decides: this one reads, and may not write.
    expect((await forgelineCli(['repo', 'list'], env)).stdout).toContain(b.name);
    const refused = await forgelineCli(['secret', 'set', 'X', '--repo', b.name], env, 'value');
    expect([refused.exitCode, refused.stderr.trim()]).toEqual([1, 'forgeline: token reader has the read role; this needs admin']);
  });

  it('lists runs, prints and follows a stage\'s log, approves as the token\'s name, and shows a broken file\'s problems on trigger', async () => {
    const gate = path.join(scratch, 'gate');
    await cli(['env', 'set', 'staging', '--repo', b.name, '--approval', 'required']);
    const { runs: [id], sha } = await b.push({
      '.forgeline/ci.yml': `on: { push: {} }
stages:
  build:
    steps: [{ run: 'echo first; while [ ! -e ${gate} ]; do sleep 0.05; done; echo second' }]
  ship:
    needs: [build]
    environment: staging
    steps: [{ run: 'echo shipped' }]
`,
    });
    await b.stage(id!, 'build', 'running');
    const runs = JSON.parse(await cli(['runs', '--repo', b.name, '--json']));
    expect(runs[0]).toMatchObject({ id, sha, pipeline: 'ci' });
    expect(await cli(['runs', '--repo', b.name])).toMatch(new RegExp(`^RUN .*\\n${id}\\s+(running|queued)\\s+ci\\s+push\\s+main\\s+${sha.slice(0, 7)}`));

    const follow = forgelineCli(['logs', String(id), 'build', '--follow'], b.forgeline.clientEnv);
    await waitFor(async () => ((await b.log(id!, 'build')).includes('first') ? true : undefined), 'the first line');
    await writeFile(gate, '');
    const followed = await follow;
    expect([followed.exitCode, followed.stdout.match(/^(first|second)$/gm), followed.stderr.trim()]).toEqual([0, ['first', 'second'], 'stage build: success']);
    expect((await cli(['logs', String(id), 'build'])).match(/^(first|second)$/gm)).toEqual(['first', 'second']);

    await b.stage(id!, 'ship', 'waiting');
    expect(JSON.parse(await cli(['approve', String(id), 'ship']))).toMatchObject({ run: id, stage: 'ship' });
    expect((await b.finished(id!)).stages.find((st: { name: string }) => st.name === 'ship')).toMatchObject({ status: 'success', approvedBy: 'cli-admin' });

    await b.push({ '.forgeline/deploy.yml': 'on:\n  manual: {}\nstages:\n  go:\n    steps: [{ run: x }]\n    needs: [missing]\n' });
    const trigger = await forgelineCli(['trigger', '--repo', b.name, '--ref', 'main', '--pipeline', 'deploy'], b.forgeline.clientEnv);
    expect(trigger.exitCode).toBe(1);
    expect(trigger.stderr).toContain(".forgeline/deploy.yml:6:13: stage 'go' needs 'missing', which is not a stage of this pipeline (stages: go)");
    // Mended, so that the next pushes plan only what they name.
    await b.push({ '.forgeline/deploy.yml': 'on:\n  manual: {}\nstages:\n  go:\n    steps: [{ run: x }]\n' });
  });

  it('reruns a finished run and cancels a running one, its process tree included, through the command', async () => {
    const pidFile = path.join(scratch, 'pid');
    const { runs: [id] } = await b.push({
      '.forgeline/ci.yml': `on: { push: {} }
stages:
  long:
    steps: [{ run: 'if [ -e ${pidFile} ]; then sleep 300 & echo $! > ${pidFile}.2; wait; fi; touch ${pidFile}' }]
`,
    });
    expect((await b.finished(id!)).status).toBe('success');
    expect(JSON.parse(await cli(['rerun', String(id)]))).toMatchObject({ id, attempt: 2 });
    await waitFor(async () => (existsSync(`${pidFile}.2`) ? true : undefined), 'the rerun\'s step to start');
    const pid = hostPid(Number((await readFile(`${pidFile}.2`, 'utf8')).trim()), `FORGELINE_RUN_ID=${id}`, `FORGELINE_REPO=${b.name}`)!;
    expect(pid).not.toBeNull();
    expect(alive(pid)).toBe(true);
    expect(JSON.parse(await cli(['cancel', String(id)]))).toMatchObject({ id });
    // Counted from the command's answer (the CLI's own start is not the cancel's): within 2 s.
    const answered = Date.now();
    await waitFor(async () => (alive(pid) ? undefined : true), 'the canceled step\'s process to die', 5000);
    expect(Date.now() - answered).toBeLessThan(2000);
    const run = await b.finished(id!);
    expect([run.status, run.attempt, run.stages[0].status]).toEqual(['canceled', 2, 'canceled']);
  });
});
