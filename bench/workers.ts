// npm run bench:workers — many worker processes on one PostgreSQL: N
// separate `forgeline worker` processes drain 1,000 one-step `true`
// stages, against pg-boss's own throughput for no-op jobs in as many
// processes with the same concurrency, measured in the same run. Prints the
// ratio (goal ≥ 0.5) and the most connections one worker process held
// (goal ≤ 4). `--json` prints the numbers alone.
//
// Both are measured the same way: the jobs are queued first, held back
// (start_after in the future) while every process starts, then released at
// once; the throughput is jobs / (last completion − release).
import { execa, type ResultPromise } from 'execa';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import pino from 'pino';
import { PgBoss } from 'pg-boss';
import { readConfig } from '../cli/config.ts';
import { openRuntime } from '../cli/runtime.ts';
import { registerRepo, replayDelivery } from '../ingest/index.ts';
import { mirrorPath } from '../scheduler/mirrors.ts';
import { startWorkers, triggerManual } from '../scheduler/index.ts';
import { createTestRepo } from '../test/helpers/git-repo.ts';
import { cpuMeter } from './cpu-usage.ts';
import { benchDatabase } from './database.ts';
import { acceptingForge } from './forge.ts';

const PROCESSES = Number(process.env.BENCH_WORKERS ?? 8);
const STAGES = Number(process.env.BENCH_WORKER_STAGES ?? 1000);
const CONCURRENCY = Number(process.env.BENCH_WORKER_CONCURRENCY ?? 2);
const json = process.argv.includes('--json');
const say = (line: string) => { if (!json) console.log(line); };
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const db = await benchDatabase();
const forge = await acceptingForge();
const dirs: string[] = [];
const tempDir = async (name: string) => {
  const dir = await mkdtemp(path.join(tmpdir(), `forgeline-bench-${name}-`));
  dirs.push(dir);
  return dir;
};
const admin = new pg.Client({ connectionString: db.url, application_name: 'bench' });
await admin.connect();
const children: ResultPromise[] = [];

/** Holds a queue's waiting jobs back until `release`. */
const hold = (like: string) => admin.query(`UPDATE pgboss.job SET start_after = now() + interval '1 hour' WHERE name LIKE $1 AND state = 'created'`, [like]);
/** Releases them all at once, and wakes the processes that listen for them; answers when. */
async function release(like: string): Promise<number> {
  const at = Date.now();
  // One notification per queue reaches every process (PostgreSQL folds repeats within a transaction); after that, workers fetch again after each job.
  await admin.query(`WITH released AS (UPDATE pgboss.job SET start_after = now() WHERE name LIKE $1 AND state = 'created' RETURNING name)
    SELECT count(pg_notify('pgboss_' || left(encode(sha224('pgboss'::bytea), 'hex'), 24), name)) FROM released`, [like]);
  return at;
}
/** Transactions the database committed so far (its statistics lag by up to half a second). */
async function commits(): Promise<number> {
  await sleep(700);
  const { rows } = await admin.query<{ n: string }>(`SELECT xact_commit AS n FROM pg_stat_database WHERE datname = current_database()`);
  return Number(rows[0]!.n);
}
/** Connections per application name, now. */
async function connections(): Promise<Map<string, number>> {
  const { rows } = await admin.query<{ app: string; n: number }>(`SELECT application_name AS app, count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() GROUP BY 1`);
  return new Map(rows.map((r) => [r.app, r.n]));
}

try {
  // ── pg-boss alone: no-op jobs.
  const boss = new PgBoss({ connectionString: db.url, schema: 'pgboss', registerInstance: false });
  await boss.start();
  await boss.createQueue('noop', { notify: true });
  await boss.insert('noop', Array.from({ length: STAGES }, (_, i) => ({ data: { i } })));
  await hold('noop');
  const noops = Array.from({ length: PROCESSES }, () => execa(process.execPath, [here('noop-worker.ts'), db.url, 'noop', String(CONCURRENCY)], { reject: false }));
  children.push(...noops);
  await Promise.all(noops.map((child) => new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve(); }))));
  const noopCommits = await commits();
  const noopCpu = cpuMeter();
  const noopStart = await release('noop');
  for (;;) {
    const { rows } = await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'noop' AND state = 'completed'`);
    if (rows[0]!.n >= STAGES) break;
    await sleep(20);
  }
  const { rows: [noopEnd] } = await admin.query<{ at: Date }>(`SELECT max(completed_on) AS at FROM pgboss.job WHERE name = 'noop'`);
  const noopSeconds = (noopEnd!.at.getTime() - noopStart) / 1000;
  const noopUsed = noopCpu();
  const noopPerJob = ((await commits()) - noopCommits) / STAGES;
  for (const child of noops) child.kill('SIGTERM');
  await Promise.all(noops);
  await boss.stop({ graceful: false });

  // ── Forgeline: the stages of STAGES planned runs, queued and held.
  const plannerDir = await tempDir('planner');
  const env = { DATABASE_URL: db.url, FORGELINE_ALLOW_LOCAL: 'true', FORGELINE_SECRET_KEY: 'bench' };
  const runtime = await openRuntime(readConfig({ ...env, FORGELINE_DATA_DIR: plannerDir }, { port: 0 }), pino({ level: 'silent' }));
  const repo = await createTestRepo();
  await repo.commit({ '.forgeline/ci.yml': 'on: { manual: {} }\nstages:\n  only: { steps: [{ run: "true" }] }\n' });
  await registerRepo({ pool: runtime.db.pool, box: runtime.deps.box, publicUrl: 'http://bench', urls: runtime.config.urls }, { forge: 'github', name: 'acme/workers', cloneUrl: repo.cloneUrl, apiUrl: forge.apiUrl }, 'bench');
  const first = await triggerManual(runtime.deps, { repo: 'acme/workers', ref: 'main' }, 'bench');
  for (let i = 1; i < STAGES; i++) await replayDelivery(runtime.deps, first.delivery, 'bench');
  // A planner that takes no stages.
  const planner = await startWorkers(runtime.deps, { concurrency: 0, backstopPollSeconds: 2 });
  for (;;) {
    await hold('stage%');
    const { rows } = await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM stages`);
    if (rows[0]!.n >= STAGES) break;
    await sleep(200);
  }
  await hold('stage%');
  await planner.stop();
  await runtime.close();

  // Each its own data dir, as on machines of their own. (Not made in an async map: a child returned from one is awaited to its exit.)
  const workerDirs = await Promise.all(Array.from({ length: PROCESSES }, (_, i) => tempDir(`worker-${i}`)));
  const workers = workerDirs.map((dataDir, i) => execa(process.execPath, [here('../bin/forgeline.js'), 'worker', '--concurrency', String(CONCURRENCY)], {
    reject: false, env: { ...process.env, ...env, FORGELINE_DATA_DIR: dataDir, LOG_LEVEL: 'warn', PGAPPNAME: `bench-worker-${i}` },
  }));
  children.push(...workers);
  await Promise.all(workers.map((child) => new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('started')) resolve(); }))));
  const stageCommits = await commits();
  const stageCpu = cpuMeter();
  const stagesStart = await release('stage%');
  let peak = 0;
  let total = 0;
  for (;;) {
    const seen = await connections();
    const perWorker = [...seen].filter(([app]) => app.startsWith('bench-worker-')).map(([, n]) => n);
    peak = Math.max(peak, ...perWorker);
    total = Math.max(total, [...seen].filter(([app]) => app !== 'bench').reduce((n, [, k]) => n + k, 0));
    const { rows } = await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM stages WHERE status IN ('success', 'failure', 'canceled')`);
    if (rows[0]!.n >= STAGES) break;
    await sleep(50);
  }
  const { rows: [end] } = await admin.query<{ at: Date; failed: number }>(`SELECT max(finished_at) AS at, count(*) FILTER (WHERE status <> 'success')::int AS failed FROM stages`);
  const stagesSeconds = (end!.at.getTime() - stagesStart) / 1000;
  const stageUsed = stageCpu();
  const perStage = ((await commits()) - stageCommits) / STAGES;
  for (const child of workers) child.kill('SIGTERM');
  await Promise.all(workers);

  // ── The floor: each stage's own work (a checkout and the step `true`, spawned as the process back end
  // does), in as many processes with the same concurrency, without the database.
  const { rows: [made] } = await admin.query<{ repoId: string; sha: string }>(`SELECT repo_id AS "repoId", sha FROM runs LIMIT 1`);
  const mirror = mirrorPath({ dataDir: plannerDir }, made!.repoId);
  const floors = Array.from({ length: PROCESSES }, (_, i) => execa(process.execPath, [here('stage-floor-worker.ts'), mirror, made!.sha,
    String(Math.floor(STAGES / PROCESSES) + (i < STAGES % PROCESSES ? 1 : 0)), String(CONCURRENCY)], { reject: false, stdin: 'pipe' }));
  children.push(...floors);
  const said = (child: ResultPromise, word: string) => new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes(word)) resolve(); }));
  await Promise.all(floors.map((child) => said(child, 'ready')));
  const floorCpu = cpuMeter();
  const floorStart = performance.now();
  for (const child of floors) child.stdin!.write('go\n');
  await Promise.all(floors.map((child) => said(child, 'done')));
  const floorSeconds = (performance.now() - floorStart) / 1000;
  const floorUsed = floorCpu();
  await Promise.all(floors);

  const result = {
    processes: PROCESSES,
    stages: STAGES,
    concurrency: CONCURRENCY,
    stagesPerSecond: Number((STAGES / stagesSeconds).toFixed(1)),
    pgbossJobsPerSecond: Number((STAGES / noopSeconds).toFixed(1)),
    ratio: Number((noopSeconds / stagesSeconds).toFixed(3)),
    // The stages' own work alone: the best ratio this machine allows, and how near Forgeline comes to it.
    floorStagesPerSecond: Number((STAGES / floorSeconds).toFixed(1)),
    floorRatio: Number((noopSeconds / floorSeconds).toFixed(3)),
    vsFloor: Number((floorSeconds / stagesSeconds).toFixed(3)),
    connections: peak,
    connectionsInAll: total,
    failed: end!.failed,
    transactionsPerStage: Number(perStage.toFixed(1)),
    transactionsPerNoopJob: Number(noopPerJob.toFixed(1)),
    // CPU of the whole machine (every process, PostgreSQL's share apart), in ms per stage and per no-op job.
    cpuPerStage: stageUsed && { all: Number((stageUsed.busy / STAGES / 1000).toFixed(1)), postgres: Number((stageUsed.postgres / STAGES / 1000).toFixed(1)) },
    cpuPerFloorStage: floorUsed && Number((floorUsed.busy / STAGES / 1000).toFixed(1)),
    cpuPerNoopJob: noopUsed && { all: Number((noopUsed.busy / STAGES / 1000).toFixed(2)), postgres: Number((noopUsed.postgres / STAGES / 1000).toFixed(2)) },
  };
  if (json) console.log(JSON.stringify(result));
  say(`workers benchmark: ${PROCESSES} worker processes × concurrency ${CONCURRENCY} drain ${STAGES} one-step \`true\` stages on one PostgreSQL`);
  say(`pg-boss alone, no-op jobs, ${PROCESSES} processes:   ${result.pgbossJobsPerSecond} jobs/s`);
  say(`Forgeline worker processes:                 ${result.stagesPerSecond} stages/s${end!.failed ? ` (${end!.failed} did not succeed)` : ''}`);
  say(`ratio: ${result.ratio} (goal ≥ 0.5)`);
  say(`the stages' own work alone (a checkout and the step, no database), ${PROCESSES} processes: ${result.floorStagesPerSecond} stages/s, ratio ${result.floorRatio} to pg-boss: the most this machine allows`);
  say(`Forgeline against that floor: ${result.vsFloor}`);
  say(`database transactions: ${result.transactionsPerStage} per stage, ${result.transactionsPerNoopJob} per no-op job (all processes, heartbeats and polls included)`);
  if (result.cpuPerStage && result.cpuPerNoopJob) say(`CPU of the machine: ${result.cpuPerStage.all} ms per stage (PostgreSQL ${result.cpuPerStage.postgres}), ${result.cpuPerFloorStage} ms per stage of the floor, ${result.cpuPerNoopJob.all} ms per no-op job (PostgreSQL ${result.cpuPerNoopJob.postgres})`);
  say(`connections: at most ${peak} per worker process (goal ≤ 4), ${total} in all at the peak`);
} finally {
  for (const child of children) child.kill('SIGKILL');
  await admin.end();
  await forge.close();
  await db.close();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
}
