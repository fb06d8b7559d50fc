// The operator's commands through the real `forgeline` process: secrets
// (repository and environment), environment protection, rerun and cancel.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forgelineCli } from './helpers/cli.ts';
import { startBench, type Bench } from './helpers/engine.ts';
import { waitFor } from './helpers/forgeline.ts';
import { alive } from './helpers/process.ts';

describe('forgeline secret, env, rerun and cancel', () => {
  let b: Bench;
  let scratch: string;
  const cli = async (args: string[], input?: string) => {
    const result = await forgelineCli(args, b.forgeline.env, input);
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
    const pid = Number((await readFile(`${pidFile}.2`, 'utf8')).trim());
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
