import { execa, type ResultPromise } from 'execa';
import { existsSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { planDelivery } from '../scheduler/plan.ts';
import { startBench, type Bench } from './helpers/engine.ts';
import { waitFor } from './helpers/forgeline.ts';
import { pushPayload, sendGitHubHook } from './helpers/github-webhook.ts';
import { alive, hostPid, processState, processesWith } from './helpers/process.ts';
import { startDatabaseProxy } from './helpers/tcp-proxy.ts';

const bin = fileURLToPath(new URL('../bin/forgeline.js', import.meta.url));

/** A real `forgeline worker` process against the test database. */
async function startWorker(env: NodeJS.ProcessEnv, args: string[] = []): Promise<{ child: ResultPromise }> {
  const child = execa(process.execPath, [bin, 'worker', ...args], { env: { ...env, LOG_LEVEL: 'warn' }, extendEnv: false, reject: false });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => { if (c.toString().includes('started')) resolve(); });
    child.then((r) => reject(new Error(`worker exited: ${r.stderr}`)));
  });
  // Wrapped: an async function returning the subprocess itself would wait for it to exit.
  return { child };
}

describe('workers on other processes', () => {
  let b: Bench;
  let scratch: string;
  const children: ResultPromise[] = [];

  beforeAll(async () => {
    // No stage runs in the test's own process: only the worker processes below take stages.
    b = await startBench('acme/workers', { workers: 0, env: { FORGELINE_HEARTBEAT_SECONDS: '2', FORGELINE_API_TOKEN: 'bootstrap-admin' } });
    scratch = await mkdtemp(path.join(tmpdir(), 'forgeline-workers-'));
  });
  // A test that failed midway leaves its workers running, and they would take the next tests' stages.
  afterEach(async () => {
    for (const c of children.splice(0)) {
      // A no-op for one that already exited.
      c.kill('SIGKILL');
      await c;
    }
  });
  afterAll(() => b?.stop());

  const env = () => ({ ...b.forgeline.env, FORGELINE_HEARTBEAT_SECONDS: '2' });

  // First in the file: no worker process runs yet, so the delivery's plan job waits for the test to lose it.
  it('plans a delivery whose plan job was lost: the monitor pass sends it back to planning', async () => {
    const sha = await b.repo.commit({ '.forgeline/ci.yml': 'on: { push: {} }\nstages:\n  build:\n    steps: [{ run: "echo built" }]\n' }, 'change', 'main');
    const res = await sendGitHubHook(b.hook.hookUrl, b.hook.secret, 'push', pushPayload({ name: b.name, cloneUrl: b.repo.cloneUrl }, sha));
    expect(res.status).toBe(202);
    const pool = b.forgeline.runtime.db.pool;
    // As if a process fetched the job and died with it: the job is gone, the delivery stored and unplanned.
    expect((await pool.query(`DELETE FROM pgboss.job WHERE name = 'plan'`)).rowCount).toBe(1);
    await pool.query(`UPDATE deliveries SET received_at = now() - interval '1 minute' WHERE id = $1`, [res.body.delivery]);
    const { child } = await startWorker(env());
    children.push(child);
    const delivery = await waitFor(async () => {
      const d = (await b.api(`/deliveries/${res.body.delivery}`)).body;
      return d.explain?.length ? d : undefined;
    }, 'the lost delivery to be planned');
    expect(delivery.runs).toHaveLength(1);
    expect((await b.finished(delivery.runs[0])).status).toBe('success');
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM runs WHERE delivery_id = $1`, [res.body.delivery]);
    expect(rows[0].n).toBe(1);
    child.kill('SIGTERM');
    await child;
  }, 60_000);

  // Second: still no worker process until the test starts one.
  it('runs a stage whose job a dead worker fetched before claiming it: pg-boss retries the job once its heartbeats stop', async () => {
    const sha = await b.repo.commit({ '.forgeline/ci.yml': 'on: { push: {} }\nstages:\n  build:\n    steps: [{ run: "echo built" }]\n' }, 'held', 'main');
    const res = await sendGitHubHook(b.hook.hookUrl, b.hook.secret, 'push', pushPayload({ name: b.name, cloneUrl: b.repo.cloneUrl }, sha));
    // Planned here: no worker process may exist yet, or it would take the stage job at once.
    const [id] = await planDelivery(b.forgeline.runtime.deps, res.body.delivery);
    const pool = b.forgeline.runtime.db.pool;
    // As if a worker fetched the job and was killed before its claim committed: active, heartbeats stopped, the stage queued.
    const held = await pool.query(
      `UPDATE pgboss.job SET state = 'active', started_on = now() - interval '1 minute', heartbeat_on = now() - interval '1 minute'
       WHERE name = 'stage' AND state = 'created' AND data->>'runId' = $1`, [String(id)]);
    expect(held.rowCount).toBe(1);
    expect((await b.run(id!)).stages[0].status).toBe('queued');
    const { child } = await startWorker(env());
    children.push(child);
    // pg-boss fails the job at its next supervision (every 10 s) and retries it with backoff; a
    // loaded machine (the suite runs Podman beside this) stretches that past half a minute.
    expect((await b.finished(id!, 80_000)).status).toBe('success');
    expect(await b.log(id!, 'build')).toContain('built');
    child.kill('SIGTERM');
    await child;
  }, 100_000);

  it('detects a worker killed with SIGKILL, kills its steps, retries the stage elsewhere or fails it "worker lost", never retrying a deployment', async () => {
    const { child: victim } = await startWorker(env(), ['--concurrency', '3']);
    children.push(victim);
    const pids = path.join(scratch, 'pids');
    const { runs: [id] } = await b.push({
      '.forgeline/ci.yml': `on: { push: {} }
stages:
  retried:
    retries: 1
    steps: [{ run: "echo $FORGELINE_ATTEMPT; if [ $FORGELINE_ATTEMPT = 1 ]; then sleep 300 & echo $! >> ${pids}; wait; fi" }]
  lost:
    steps: [{ run: "sleep 300 & echo $! >> ${pids}; wait" }]
  deploying:
    environment: staging
    retries: 1
    steps: [{ run: "echo $FORGELINE_ATTEMPT; sleep 300 & echo $! >> ${pids}; wait" }]
`,
    });
    for (const stage of ['retried', 'lost', 'deploying']) await b.stage(id!, stage, 'running');
    await waitFor(async () => (existsSync(pids) && (await readFile(pids, 'utf8')).trim().split('\n').length === 3 ? true : undefined), 'the three steps to start');
    // Each step's sleep, and the shells around them: everything that carries the run's id.
    const marker = [`FORGELINE_RUN_ID=${id}`, `FORGELINE_REPO=${b.name}`];
    expect(processesWith(...marker).length).toBeGreaterThanOrEqual(3);

    victim.kill('SIGKILL');
    await victim;
    // The steps die with their worker, before anything is retried.
    await waitFor(async () => (processesWith(...marker).length ? undefined : true), 'the lost worker\'s steps to die', 3000);
    const { child: rescuer } = await startWorker(env(), ['--concurrency', '2']);
    children.push(rescuer);
    const run = await b.finished(id!, 30_000);
    expect(Object.fromEntries(run.stages.map((s: any) => [s.name, [s.status, s.attempt, s.reason]]))).toEqual({
      retried: ['success', 2, null],
      lost: ['failure', 1, 'worker lost'],
      // Its retries notwithstanding: a deployment that may have half happened is not done again on its own.
      deploying: ['failure', 1, 'worker lost'],
    });
    rescuer.kill('SIGTERM');
    expect((await rescuer).exitCode).toBe(0);
  }, 60_000);

  it('does not take a running stage from a worker the database could not hear while it was away, nor lose its output', async () => {
    const proxy = await startDatabaseProxy(b.forgeline.env.DATABASE_URL!);
    try {
      const { child } = await startWorker({ ...env(), DATABASE_URL: proxy.url });
      children.push(child);
      const { runs: [id] } = await b.push({ '.forgeline/ci.yml': 'on: { push: {} }\nstages:\n  long:\n    steps: [{ run: "echo started; sleep 2; echo during; sleep 6; echo survived" }]\n' });
      await waitFor(async () => ((await b.log(id!, 'long')).includes('started') ? true : undefined), 'the step to start');
      // The database goes away for twice the heartbeat interval, then comes back: nobody heard anybody.
      await proxy.cut();
      await new Promise((r) => setTimeout(r, 4000));
      await proxy.restore();
      const run = await b.finished(id!, 30_000);
      expect([run.status, run.stages[0].reason]).toEqual(['success', null]);
      // What the step printed while the database was away was kept and stored after it came back.
      expect(await b.log(id!, 'long')).toMatch(/started\n(.|\n)*during\n(.|\n)*survived\n/);
      child.kill('SIGTERM');
      await child;
    } finally {
      await proxy.close();
    }
  }, 60_000);

  it('holds the steps of a worker cut off from the database before another retries its stage, and kills them once it can tell', async () => {
    const proxy = await startDatabaseProxy(b.forgeline.env.DATABASE_URL!);
    const ticks = path.join(scratch, 'partition-ticks');
    const pidFile = path.join(scratch, 'partition-pid');
    try {
      const { child: cutOff } = await startWorker({ ...env(), DATABASE_URL: proxy.url });
      children.push(cutOff);
      const { runs: [id] } = await b.push({
        '.forgeline/ci.yml': `on: { push: {} }
stages:
  held:
    retries: 1
    steps: [{ run: "if [ $FORGELINE_ATTEMPT = 1 ]; then echo $$ > ${pidFile}; while true; do echo 1 >> ${ticks}; sleep 0.1; done; fi; for i in 1 2 3 4 5 6 7 8 9 10; do echo 2 >> ${ticks}; sleep 0.1; done" }]
`,
      });
      await waitFor(async () => (existsSync(pidFile) && (await readFile(pidFile, 'utf8')).trim() ? true : undefined), 'the first attempt to start');
      // Found while it is the run's only step: the retry, later, may have the same pid in its own namespace.
      const step = hostPid(Number((await readFile(pidFile, 'utf8')).trim()), `FORGELINE_RUN_ID=${id}`, `FORGELINE_REPO=${b.name}`)!;
      expect(step).not.toBeNull();
      // The other worker reaches the database all along.
      const { child: rescuer } = await startWorker(env());
      children.push(rescuer);
      await new Promise((r) => setTimeout(r, 2500));
      await proxy.cut();
      const run = await b.finished(id!, 30_000);
      expect([run.status, run.stages[0].attempt]).toEqual(['success', 2]);
      // The first attempt is stopped, not running beside the second: its ticks all come before the second's.
      expect(processState(step)).toBe('T');
      const lines = (await readFile(ticks, 'utf8')).trim().split('\n');
      expect(lines.slice(lines.indexOf('2'))).toEqual(Array(10).fill('2'));
      expect(lines.indexOf('2')).toBeGreaterThan(0);
      // Back in touch, the worker learns the stage was taken and kills what it held.
      await proxy.restore();
      await waitFor(async () => (alive(step) ? undefined : true), 'the held step to be killed', 10_000);
      expect((await readFile(ticks, 'utf8')).trim().split('\n')).toEqual(lines);
      cutOff.kill('SIGTERM');
      rescuer.kill('SIGTERM');
      expect((await cutOff).exitCode).toBe(0);
      await rescuer;
    } finally {
      await proxy.close();
    }
  }, 60_000);

  it('keeps an environment locked after its running deployment is canceled until no step of it can run, also on a worker cut off from the database', async () => {
    const proxy = await startDatabaseProxy(b.forgeline.env.DATABASE_URL!);
    const ticks = path.join(scratch, 'deploy-ticks');
    const pids = path.join(scratch, 'deploy-pid');
    const deploy = (forever: boolean) => ({
      '.forgeline/ci.yml': `on: { push: {} }
stages:
  deploy:
    environment: lockstep
    steps: [{ run: "echo $$ > ${pids}-$FORGELINE_RUN_ID; ${forever ? 'while true' : 'for i in 1 2 3 4 5'}; do echo $FORGELINE_RUN_ID >> ${ticks}; sleep 0.1; done" }]
`,
      'n.txt': String(Math.random()),
    });
    const cancel = async (id: number) => expect((await b.api(`/runs/${id}/cancel`, { method: 'POST', token: 'bootstrap-admin' })).body.canceled).toEqual(['deploy']);
    const pidOf = async (id: number) => hostPid(Number(await waitFor(async () => (existsSync(`${pids}-${id}`) ? (await readFile(`${pids}-${id}`, 'utf8')).trim() || undefined : undefined), 'the deploy step to start')), `FORGELINE_RUN_ID=${id}`, `FORGELINE_REPO=${b.name}`)!;
    try {
      // A worker that hears the cancel: the next deployment starts once the step is dead, not before.
      const { child: worker } = await startWorker(env());
      children.push(worker);
      const { runs: [first] } = await b.push(deploy(true));
      const firstStep = await pidOf(first!);
      expect(firstStep).not.toBeNull();
      const { runs: [second] } = await b.push(deploy(false));
      expect(await b.stage(second!, 'deploy', 'waiting')).toMatchObject({ waitingFor: 'lock' });
      await cancel(first!);
      expect((await b.finished(second!)).status).toBe('success');
      expect(alive(firstStep)).toBe(false);
      // The canceled step ticked no more once the next deployment began: it was dead before the lock passed.
      const firstTicks = (await readFile(ticks, 'utf8')).trim().split('\n');
      expect(firstTicks.slice(firstTicks.indexOf(String(second)))).toEqual(Array(5).fill(String(second)));
      expect(firstTicks.indexOf(String(second))).toBeGreaterThan(0);

      // A worker cut off from the database as its deployment is canceled: it cannot hear the cancel,
      // so the lock is kept until the others find it lost, by when its step is held.
      await rm(ticks);
      const { child: cutOff } = await startWorker({ ...env(), DATABASE_URL: proxy.url });
      children.push(cutOff);
      worker.kill('SIGTERM');
      await worker;
      const { runs: [third] } = await b.push(deploy(true));
      const thirdStep = await pidOf(third!);
      const { runs: [fourth] } = await b.push(deploy(false));
      expect(await b.stage(fourth!, 'deploy', 'waiting')).toMatchObject({ waitingFor: 'lock' });
      const { child: rescuer } = await startWorker(env());
      children.push(rescuer);
      await new Promise((r) => setTimeout(r, 2500));
      await proxy.cut();
      await cancel(third!);
      const canceledAt = Date.now();
      // Not freed by the cancel: the next deployment still waits for the step that may be running.
      expect((await b.run(fourth!)).stages[0]).toMatchObject({ status: 'waiting', reason: `waiting for lockstep: run ${third} is deploying` });
      // A rerun of it waits for its own first attempt's step, then is canceled before it gets the lock.
      expect((await b.api(`/runs/${third}/stages/deploy/rerun`, { method: 'POST', token: 'bootstrap-admin' })).status).toBe(200);
      expect(await b.stage(third!, 'deploy', 'waiting')).toMatchObject({ attempt: 2, reason: 'waiting for lockstep: attempt 1 of this stage is still stopping' });
      await cancel(third!);
      expect((await b.finished(fourth!)).status).toBe('success');
      // Freed once the others found the cut-off worker lost: a heartbeat interval after its last one.
      expect(Date.parse((await b.run(fourth!)).stages[0].startedAt) - canceledAt).toBeGreaterThan(1000);
      expect(processState(thirdStep)).toBe('T');
      const lines = (await readFile(ticks, 'utf8')).trim().split('\n');
      expect(lines.slice(lines.indexOf(String(fourth)))).toEqual(Array(5).fill(String(fourth)));
      expect(lines.indexOf(String(fourth))).toBeGreaterThan(0);
      await proxy.restore();
      await waitFor(async () => (alive(thirdStep) ? undefined : true), 'the held step to be killed', 10_000);
      const deployments = (await b.api(`/repos/${encodeURIComponent(b.name)}/environments/lockstep/deployments`)).body.items;
      expect(deployments.map((d: any) => [d.runId, d.status])).toEqual([[fourth, 'success'], [third, 'canceled'], [second, 'success'], [first, 'canceled']]);
      cutOff.kill('SIGTERM');
      rescuer.kill('SIGTERM');
      await Promise.all([cutOff, rescuer]);
    } finally {
      await proxy.close();
    }
  }, 90_000);

  it('spreads the stages of many runs over three worker processes, none run twice', async () => {
    const workers = (await Promise.all([1, 2, 3].map(() => startWorker(env(), ['--concurrency', '2'])))).map((w) => w.child);
    children.push(...workers);
    const file = `on: { push: {} }\nstages:\n${['a', 'b', 'c', 'd'].map((n) => `  ${n}:\n    steps: [{ run: "sleep 0.3; echo $FORGELINE_RUN_ID-${n} >> ${path.join(scratch, 'ran')}" }]\n`).join('')}`;
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) ids.push(...(await b.push({ '.forgeline/ci.yml': file, 'n.txt': String(i) })).runs);
    for (const id of ids) expect((await b.finished(id, 40_000)).status).toBe('success');
    const ran = (await readFile(path.join(scratch, 'ran'), 'utf8')).trim().split('\n');
    expect(ran).toHaveLength(ids.length * 4);
    expect(new Set(ran).size).toBe(ran.length);
    const { rows } = await b.forgeline.runtime.db.pool.query(
      'SELECT worker, count(*)::int AS n FROM stages WHERE run_id = ANY($1::bigint[]) GROUP BY worker', [ids]);
    expect(rows.length).toBe(3);
    for (const w of workers) w.kill('SIGTERM');
    for (const w of workers) expect((await w).exitCode).toBe(0);
  }, 90_000);

  it('routes stages by runs-on labels, waiting while no worker has them', async () => {
    const { child: linux } = await startWorker(env(), ['--labels', 'linux']);
    children.push(linux);
    const { runs: [id] } = await b.push({
      '.forgeline/ci.yml': 'on: { push: {} }\nruns-on: [linux]\nstages:\n  gpu:\n    runs-on: [gpu]\n    retries: 1\n    steps: [{ run: "echo on gpu; [ $FORGELINE_ATTEMPT = 2 ]" }]\n  plain:\n    steps: [{ run: "echo on linux" }]\n',
    });
    expect(await b.stage(id!, 'gpu', 'waiting')).toMatchObject({ waitingFor: 'labels', reason: 'waiting for a worker with labels [gpu]' });
    await b.stage(id!, 'plain', 'success');
    expect((await b.run(id!)).stages.find((s: any) => s.name === 'gpu').status).toBe('waiting');
    const { child: gpu } = await startWorker(env(), ['--labels', 'gpu,linux']);
    children.push(gpu);
    expect((await b.finished(id!)).stages.find((s: any) => s.name === 'gpu')).toMatchObject({ status: 'success', attempt: 2 });
    // The retry went to the same workers as the first attempt: the gpu queue, not the plain one.
    const { rows } = await b.forgeline.runtime.db.pool.query(
      `SELECT name, (data->>'attempt')::int AS attempt FROM pgboss.job WHERE data->>'runId' = $1 AND data->>'stage' = 'gpu' ORDER BY created_on`, [String(id)]);
    expect(rows.map((r) => [r.name, r.attempt])).toEqual([['stage.gpu', 1], ['stage.gpu', 2]]);
    linux.kill('SIGTERM');
    gpu.kill('SIGTERM');
    await Promise.all([linux, gpu]);
  }, 60_000);

  it('shuts down on SIGTERM: running steps finish within the deadline, or fail cleanly and are retried', async () => {
    const { child: patient } = await startWorker({ ...env(), FORGELINE_SHUTDOWN_SECONDS: '10' });
    children.push(patient);
    const { runs: [id] } = await b.push({ '.forgeline/ci.yml': 'on: { push: {} }\nstages:\n  short:\n    steps: [{ run: "sleep 1.5; echo finished" }]\n' });
    await b.stage(id!, 'short', 'running');
    patient.kill('SIGTERM');
    expect((await patient).exitCode).toBe(0);
    expect((await b.run(id!)).stages[0]).toMatchObject({ status: 'success' });

    const { child: hasty } = await startWorker({ ...env(), FORGELINE_SHUTDOWN_SECONDS: '1' });
    children.push(hasty);
    const { runs: [long] } = await b.push({ '.forgeline/ci.yml': 'on: { push: {} }\nstages:\n  long:\n    retries: 1\n    steps: [{ run: "if [ $FORGELINE_ATTEMPT = 1 ]; then sleep 60; fi" }]\n' });
    await b.stage(long!, 'long', 'running');
    hasty.kill('SIGTERM');
    expect((await hasty).exitCode).toBe(0);
    const retrying = (await b.run(long!)).stages[0];
    expect(retrying).toMatchObject({ status: 'queued', attempt: 2, reason: 'attempt 1 failed: worker stopped before the stage finished; retrying' });
    const { child: next } = await startWorker(env());
    children.push(next);
    expect((await b.finished(long!)).status).toBe('success');
    next.kill('SIGTERM');
    await next;
  }, 60_000);

  it('stops `serve` on SIGTERM as a worker stops: its running step finishes within the deadline, then it exits 0', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as AddressInfo;
        probe.close(() => resolve(free));
      });
    });
    const serve = execa(process.execPath, [bin, 'serve', '--port', String(port), '--workers', '1'], { env: { ...env(), LOG_LEVEL: 'warn', FORGELINE_SHUTDOWN_SECONDS: '10' }, extendEnv: false, reject: false });
    children.push(serve);
    await new Promise<void>((resolve, reject) => {
      serve.stdout!.on('data', (c: Buffer) => { if (c.toString().includes('listening')) resolve(); });
      serve.then((r) => reject(new Error(`serve exited: ${r.stderr}`)));
    });
    const { runs: [id] } = await b.push({ '.forgeline/ci.yml': 'on: { push: {} }\nstages:\n  short:\n    steps: [{ run: "sleep 1.5; echo finished" }]\n' });
    await b.stage(id!, 'short', 'running');
    const { rows: [stage] } = await b.forgeline.runtime.db.pool.query('SELECT worker FROM stages WHERE run_id = $1', [id]);
    expect(stage.worker).toContain(`:${serve.pid}:`);
    serve.kill('SIGTERM');
    expect((await serve).exitCode).toBe(0);
    expect((await b.run(id!)).stages[0]).toMatchObject({ status: 'success' });
    expect(await b.log(id!, 'short')).toContain('finished');
  }, 60_000);
  it('opens at most --db-connections to PostgreSQL (4 for a worker), pg-boss and status reports included, and says when that is too few', async () => {
    const app = `forgeline-connections-${process.pid}`;
    const { child } = await startWorker({ ...env(), PGAPPNAME: app }, ['--concurrency', '2']);
    children.push(child);
    const { runs } = await b.push({ '.forgeline/ci.yml': `on: { push: {} }
stages:
${['a', 'b', 'c', 'd', 'e', 'f'].map((n) => `  ${n}: { steps: [{ run: "sleep 0.2; echo ${n}" }] }`).join('\n')}
  last: { needs: [a, b, c, d, e, f], steps: [{ run: "echo done" }] }
` });
    const pool = b.forgeline.runtime.db.pool;
    let peak = 0;
    let done = false;
    const finished = b.finished(runs[0]!, 45_000).finally(() => { done = true; });
    while (!done) {
      const { rows } = await pool.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1`, [app]);
      peak = Math.max(peak, rows[0].n);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await finished).status).toBe('success');
    // Its LISTEN connection and a pool of three, shared by pg-boss and Forgeline.
    expect(peak).toBeGreaterThanOrEqual(2);
    expect(peak).toBeLessThanOrEqual(4);

    const tooFew = await execa(process.execPath, [bin, 'worker', '--db-connections', '2'], { env: { ...env(), LOG_LEVEL: 'warn' }, extendEnv: false, reject: false });
    expect(tooFew.exitCode).not.toBe(0);
    expect(tooFew.stderr).toContain('--db-connections 2 is too few: give at least 3 (1 to listen, 2 for the rest)');
  }, 60_000);
});
