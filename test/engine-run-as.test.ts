import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRuntimeWithWorkers } from '../cli/runtime.ts';
import { runStageJob } from '../scheduler/stage.ts';
import { FORK_LABEL, setSecret } from '../scheduler/index.ts';
import { startBench, type Bench } from './helpers/engine.ts';
import { waitFor } from './helpers/forgeline.ts';
import { processesWith } from './helpers/process.ts';
import { ensureUser } from './helpers/step-user.ts';

const USER = 'forgeline-step';
const FORK_USER = 'forgeline-fork';


const attempt = (what: string, cmd: string) => `if ${cmd} >/dev/null 2>&1; then echo "${what}: allowed"; else echo "${what}: refused"; fi`;

describe('--run-as', () => {
  let b: Bench;

  beforeAll(async () => {
    await ensureUser(USER);
    // No FORGELINE_SECRET_KEY: the key is generated into the data dir, where the step user must not read it.
    b = await startBench('acme/isolated', { workers: 1, runAs: USER, env: { FORGELINE_SECRET_KEY: '' } });
    await setSecret({ pool: b.forgeline.runtime.db.pool, box: b.forgeline.runtime.deps.box }, { repo: b.name, name: 'TOKEN', value: 'isolated-secret-value' }, 'test');
  });
  afterAll(() => b?.stop());

  it('runs steps as the user, who cannot read the data dir, the worker or write the mirror', async () => {
    const data = b.forgeline.config.dataDir;
    // What the step must be refused is there, and readable to the worker's own user.
    expect(readFileSync(path.join(data, 'secret.key')).length).toBeGreaterThan(0);
    const { sha, runs: [id] } = await b.push({
      '.forgeline/ci.yml': `on: { push: {} }
stages:
  probe:
    secrets: [TOKEN]
    steps:
      - run: |
          echo "user=$(id -un)"
          ${attempt('read the secret key', `cat ${data}/secret.key`)}
          ${attempt('list the data dir', `ls ${data}`)}
          ${attempt('list the mirrors', `ls ${data}/mirrors`)}
          ${attempt('write the mirror', `touch ${data}/mirrors/x`)}
          ${attempt('read the worker environment', `cat /proc/${process.pid}/environ`)}
          ${attempt('write the checkout', 'touch here')}
          echo "head=$(git log -1 --format=%H)"
          echo "token=$TOKEN"
`,
    });
    const run = await b.finished(id!);
    expect(run.status).toBe('success');
    const log = await b.log(id!, 'probe');
    expect(log).toContain(`user=${USER}`);
    for (const refused of ['read the secret key', 'list the data dir', 'list the mirrors', 'write the mirror', 'read the worker environment']) {
      expect(log).toContain(`${refused}: refused`);
    }
    expect(log).toContain('write the checkout: allowed');
    expect(log).toContain(`head=${sha}`);
    expect(log).toContain('token=***');
  });

  it('sends an unapproved fork\'s stage that reached this worker (no --fork-run-as) back to the fork queue, untouched', async () => {
    const sha = await b.repo.commit({ '.forgeline/forked.yml': 'on: { pull_request: {} }\nstages:\n  s: { steps: [{ run: "echo ran" }] }\n' }, 'from a fork', 'stray');
    const { runs: [id] } = await b.pullRequest(sha, { action: 'opened', head: 'stray', fork: true, number: 41 });
    expect(await b.stage(id!, 's', 'waiting')).toMatchObject({ waitingFor: 'fork' });
    const pool = b.forgeline.runtime.db.pool;
    // As if its job had been sent to the plain queue (by an older Forgeline) while it was queued.
    await pool.query(`UPDATE stages SET status = 'queued', waiting_for = NULL WHERE run_id = $1`, [id]);
    await runStageJob(b.forgeline.runtime.deps, { runId: id!, stage: 's', attempt: 1 });
    // No worker here has a fork user: it says it waits for one.
    expect((await b.run(id!)).stages[0]).toMatchObject({ status: 'waiting', attempt: 1, waitingFor: 'labels', reason: 'waiting for a worker that runs forks as a user of their own (--fork-run-as)' });
    expect(await b.log(id!, 's')).not.toContain('ran');
    const { rows } = await pool.query(`SELECT name FROM pgboss.job WHERE data->>'runId' = $1 AND name LIKE 'stage%'`, [String(id)]);
    expect(rows.map((r) => r.name)).toEqual([`stage.${FORK_LABEL}`]);
  });
});

describe('--fork-run-as', () => {
  let b: Bench;

  beforeAll(async () => {
    await ensureUser(USER);
    await ensureUser(FORK_USER);
    b = await startBench('acme/fork-isolated', { workers: 2, runAs: USER, forkRunAs: FORK_USER, forkPrs: 'run' });
    await setSecret({ pool: b.forgeline.runtime.db.pool, box: b.forgeline.runtime.deps.box }, { repo: b.name, name: 'TOKEN', value: 'fork-isolated-secret' }, 'test');
  });
  afterAll(() => b?.stop());

  it('runs a fork\'s pull request under --fork-prs run as a user of its own, who cannot read a running step\'s environment or workspace', async () => {
    const gate = await mkdtemp(path.join(tmpdir(), 'forgeline-fork-gate-'));
    await chmod(gate, 0o777);
    // A step holding the repository's secret, in its environment and in a file of its workspace, running until released.
    const { runs: [holding] } = await b.push({
      '.forgeline/hold.yml': `on: { push: { branches: [main] } }\nstages:\n  hold:\n    secrets: [TOKEN]\n    steps: [{ run: "echo $TOKEN > kept.txt; echo started; while [ ! -e ${gate}/release ]; do sleep 0.05; done" }]\n`,
    });
    await waitFor(async () => ((await b.log(holding!, 'hold')).includes('started') ? true : undefined), 'the secret-holding step to start');
    const workspace = path.join(b.forgeline.runtime.deps.workspaceRoot!, `${holding}-hold-1`);
    const probe = `on: { push: {}, pull_request: {} }
stages:
  probe:
    retries: 1
    steps:
      - run: |
          echo "user=$(id -un)"
          echo "found=$(cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | grep -c fork-isolated-secret)"
          ${attempt('read the other workspace', `cat ${workspace}/src/kept.txt`)}
      # A fork's first attempt fails: its retry must go to the same workers.
      - run: '[ "$FORGELINE_EVENT" = push ] || [ "$FORGELINE_ATTEMPT" = 2 ]'
`;
    // The secret is there to be found: the holding step's environment, read from outside, has it.
    expect(processesWith(`FORGELINE_RUN_ID=${holding}`, `FORGELINE_REPO=${b.name}`).some((pid) => readFileSync(`/proc/${pid}/environ`, 'utf8').includes('fork-isolated-secret'))).toBe(true);
    // The same probe on a push of the repository's own branch runs as the step user, who may read the other
    // workspace; the holding step's processes are not in its /proc (each step has a PID namespace of its own).
    const { sha, runs: [own] } = await b.push({ '.forgeline/probe.yml': probe }, { branch: 'fork-work' });
    expect((await b.finished(own!)).status).toBe('success');
    const ownLog = await b.log(own!, 'probe');
    expect(ownLog).toContain(`user=${USER}`);
    expect(ownLog).toContain('found=0');
    expect(ownLog).toContain('read the other workspace: allowed');

    // From a fork, with no approval: its own user, which reaches neither.
    const { runs: [forked] } = await b.pullRequest(sha, { action: 'opened', head: 'fork-work', fork: true, number: 21 });
    const run = await b.finished(forked!);
    expect([run.status, run.approvedBy, run.stages[0].attempt]).toEqual(['success', null, 2]);
    // The retry's job, like any job of this run (the first attempt may have started without one), is in the fork queue.
    const { rows } = await b.forgeline.runtime.db.pool.query(
      `SELECT name, (data->>'attempt')::int AS attempt FROM pgboss.job WHERE data->>'runId' = $1 AND name LIKE 'stage%' ORDER BY created_on`, [String(forked)]);
    expect(rows.map((r) => r.attempt)).toContain(2);
    expect(new Set(rows.map((r) => r.name))).toEqual(new Set([`stage.${FORK_LABEL}`]));
    const forkLog = await b.log(forked!, 'probe');
    expect(forkLog).toContain(`user=${FORK_USER}`);
    expect(forkLog).toContain('found=0');
    expect(forkLog).toContain('read the other workspace: refused');
    await writeFile(path.join(gate, 'release'), '');
    expect((await b.finished(holding!)).status).toBe('success');
  });

  it('refuses --fork-run-as without --run-as, naming the same user, or its label given by hand, before opening anything', async () => {
    const config = b.forgeline.config;
    await expect(openRuntimeWithWorkers(config, { concurrency: 1, forkRunAs: FORK_USER })).rejects.toThrow('--fork-run-as needs --run-as');
    await expect(openRuntimeWithWorkers(config, { concurrency: 1, runAs: USER, forkRunAs: USER })).rejects.toThrow(`--fork-run-as ${USER} is the --run-as user`);
    await expect(openRuntimeWithWorkers(config, { concurrency: 1, runAs: USER, forkRunAs: 'forgeline-nobody-here' })).rejects.toThrow('--fork-run-as forgeline-nobody-here: no such user');
    await expect(openRuntimeWithWorkers(config, { concurrency: 1, labels: [FORK_LABEL] })).rejects.toThrow(`the label ${FORK_LABEL} is Forgeline's own`);
    // A worker serves at most six labels: the fork user's is one of them.
    await expect(openRuntimeWithWorkers(config, { concurrency: 1, runAs: USER, forkRunAs: FORK_USER, labels: ['a', 'b', 'c', 'd', 'e', 'f', 'a'] }))
      .rejects.toThrow('--fork-run-as adds a label of its own: give at most 5 --labels with it');
  });
});
