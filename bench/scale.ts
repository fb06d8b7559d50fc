// npm run bench:scale — does Forgeline stay fast after a year of webhooks?
// The same measurements on an empty database and on one seeded to
// production size (by default 1,000,000 deliveries over 10 repositories,
// 100,000 runs of 5 stages with their logs, in SQL), in one run. "Empty"
// holds a page's worth (200 deliveries, 120 runs), so pages list as many
// items in both: hook
// throughput, webhook → first step, the API's first and deep pages and the
// run page, the monitor pass and planning. Beside them, the floors measured
// in the same run: a hook endpoint that verifies, parses and group-commits
// one row per delivery, and the parts of webhook → first step timed alone.
// Then the logs and workers benchmarks. `--json` prints the numbers alone.
//
// Sizes: BENCH_SCALE_DELIVERIES, BENCH_SCALE_RUNS. BENCH_SCALE_SKIP=logs,workers
// leaves those two out.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { execa, type ResultPromise } from 'execa';
import { freeLocksOfLostWorkers, reapLostStages, requeueUntrackedStages } from '../scheduler/reaper.ts';
import { replanLostDeliveries } from '../scheduler/replan.ts';
import { reportOverdueRuns } from '../scheduler/overdue-reports.ts';
import { createTestRepo } from '../test/helpers/git-repo.ts';
import { githubExamples, pushPayload, sendGitHubHook } from '../test/helpers/github-webhook.ts';
import { benchDatabase } from './database.ts';
import { latencyFloor, pct } from './latency-floor.ts';
import { closedLoop, type MakeRequest } from './load.ts';
import { seedProduction } from './seed.ts';
import { prune, type PruneCounts } from '../scheduler/index.ts';
import { createPool, postgresBlobStore } from '../store/index.ts';
import { startBenchServer } from './server.ts';

const SIZES = { deliveries: Number(process.env.BENCH_SCALE_DELIVERIES ?? 1_000_000), runs: Number(process.env.BENCH_SCALE_RUNS ?? 100_000), repos: 10 };
/** The "empty" database holds a page's worth, so that first and deep pages list as many items as the full one's. */
const EMPTY = { deliveries: 200, runs: 120, repos: 2 };
const SKIP = new Set((process.env.BENCH_SCALE_SKIP ?? '').split(',').filter(Boolean));
const PUSHES = 30;
const HOOKS = 3000;
const SAMPLES = 25;
const json = process.argv.includes('--json');
const say = (line: string) => { if (!json) console.log(line); };
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const median = (xs: number[]) => pct(xs, 50);
const nowNs = () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
const secret = 'bench-secret';

/** The template's pipeline: five stages, the first marking when it started. */
const pipeline = (marks: string) => `on: { push: {} }
stages:
  build: { steps: [{ run: "date +%s%N > ${marks}/$FORGELINE_SHA; echo building" }] }
  test: { needs: [build], steps: [{ run: "echo testing" }] }
  lint: { needs: [build], steps: [{ run: "echo linting" }] }
  package: { needs: [test, lint], steps: [{ run: "echo packaging" }] }
  deploy: { needs: [package], steps: [{ run: "echo deploying" }] }
`;

interface Measured {
  latencies: number[];
  planningMs: number;
  api: Record<string, number>;
  monitorMs: number;
  ingest: number;
  floor?: { parts: Array<readonly [string, number]>; floor: number };
}

async function timedGet(url: string): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES + 3; i++) {
    const t = performance.now();
    const res = await fetch(url);
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
    if (i >= 3) samples.push(performance.now() - t);
  }
  return median(samples);
}

/** Everything but the logs and workers, on one database, once it is seeded to `sizes`. */
async function measure(label: string, databaseUrl: string, sizes: typeof SIZES): Promise<Measured> {
  say(`── ${label} database`);
  const marks = await mkdtemp(path.join(tmpdir(), 'forgeline-bench-marks-'));
  const bench = await startBenchServer({}, 2, databaseUrl);
  let open = true;
  const close = async () => {
    if (open) await bench.close();
    open = false;
  };
  const pool = bench.runtime.db.pool;
  try {
    const repo = await createTestRepo();
    const hook = await bench.register('acme/scale', repo.cloneUrl);
    /** Every stage finished: each push is measured on an idle machine, as its floor is. */
    const settled = async () => {
      for (;;) {
        const { rows } = await pool.query(`SELECT count(*) FILTER (WHERE status NOT IN ('success', 'failure', 'canceled', 'skipped'))::int AS open FROM stages`);
        if (rows[0].open === 0) return;
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const deliver = async (sha: string, before: string) => {
      const sent = nowNs();
      const res = await sendGitHubHook(hook.hookUrl, hook.secret, 'push', pushPayload({ name: 'acme/scale', cloneUrl: repo.cloneUrl }, sha, { before }));
      if (res.status !== 202) throw new Error(`hook answered ${res.status}`);
      const mark = path.join(marks, sha);
      while (!existsSync(mark) || !(await readFile(mark, 'utf8')).trim()) await new Promise((r) => setTimeout(r, 1));
      return { ms: Number(BigInt((await readFile(mark, 'utf8')).trim()) - sent) / 1e6, delivery: res.body.delivery as string };
    };
    let before = await repo.commit({ '.forgeline/ci.yml': pipeline(marks) }, 'pipeline');
    let last = '';
    for (let i = 0; i < 3; i++) {
      const sha = await repo.commit({ 'n.txt': `warm ${i}` });
      last = (await deliver(sha, before)).delivery;
      before = sha;
    }
    await settled();
    const { rows: [run] } = await pool.query(`SELECT id::int AS id, repo_id AS "repoId" FROM runs WHERE delivery_id = $1`, [last]);
    say(`  seeding ${sizes.deliveries} deliveries, ${sizes.runs} runs of 5 stages over ${sizes.repos} repositories`);
    await seedProduction(pool, sizes, { deliveryId: last, runId: run.id, repoId: run.repoId }, say);
    const { rows: [size] } = await pool.query(`SELECT pg_database_size(current_database())::float8 AS bytes`);
    say(`  the database now takes ${(size.bytes / 1024 ** 3).toFixed(2)} GiB`);
    const latencies: number[] = [];
    const delivered: string[] = [];
    for (let i = 0; i < PUSHES; i++) {
      const sha = await repo.commit({ 'n.txt': String(i) });
      const { ms, delivery } = await deliver(sha, before);
      latencies.push(ms);
      delivered.push(delivery);
      before = sha;
      await settled();
    }
    // Planning: the delivery stored → its run created, as the database saw it.
    const { rows: planned } = await pool.query<{ ms: number }>(
      `SELECT extract(epoch FROM (r.created_at - d.received_at)) * 1000 AS ms FROM deliveries d JOIN runs r ON r.delivery_id = d.id WHERE d.id = ANY($1)`, [delivered]);
    const planningMs = median(planned.map((r) => Number(r.ms)));

    // The API and the run page: first pages, a page deep in the history, one run.
    const { rows: [deepRun] } = await pool.query(`SELECT id::int AS id FROM runs ORDER BY id LIMIT 1 OFFSET (SELECT count(*) / 2 FROM runs)`);
    const { rows: [deepDelivery] } = await pool.query(`SELECT id, received_at FROM deliveries ORDER BY received_at, id LIMIT 1 OFFSET (SELECT count(*) / 2 FROM deliveries)`);
    const deliveryCursor = Buffer.from(`${deepDelivery.received_at.toISOString()}|${deepDelivery.id}`).toString('base64url');
    const { rows: [newest] } = await pool.query(`SELECT max(id)::int AS id FROM runs`);
    const api = {
      'GET /api/runs': await timedGet(`${bench.base}/api/runs`),
      'GET /api/runs (deep page)': await timedGet(`${bench.base}/api/runs?cursor=${deepRun.id}`),
      'GET /api/deliveries': await timedGet(`${bench.base}/api/deliveries`),
      'GET /api/deliveries (deep page)': await timedGet(`${bench.base}/api/deliveries?cursor=${deliveryCursor}`),
      'the run page': await timedGet(`${bench.base}/runs/${newest.id}`),
      'the runs page': await timedGet(`${bench.base}/`),
    };
    // One monitor pass, as each worker runs it every half heartbeat.
    const deps = bench.runtime.deps;
    const passes: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const t = performance.now();
      await reapLostStages(deps, 30);
      await freeLocksOfLostWorkers(deps, 30);
      await requeueUntrackedStages(deps, () => [], 30);
      await replanLostDeliveries(deps, 60);
      await reportOverdueRuns(deps, 60);
      passes.push(performance.now() - t);
    }
    const floor = sizes === EMPTY ? await latencyFloor(deps.boss, repo, bench.dataDir) : undefined;
    await close();
    const ingest = await hookThroughput('forgeline', databaseUrl);
    return { latencies, planningMs, api, monitorMs: median(passes), ingest, floor };
  } finally {
    await close();
    await rm(marks, { recursive: true, force: true });
  }
}

const template = githubExamples('push').find((p) => p.ref.startsWith('refs/heads/') && p.head_commit);
template.repository.full_name = 'acme/bench';
const makePush: MakeRequest = () => {
  const sha = randomBytes(20).toString('hex');
  const body = Buffer.from(JSON.stringify({ ...template, after: sha, head_commit: { ...template.head_commit, id: sha } }));
  return { body, headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}` } };
};

/** Hooks per second at 32 concurrent senders, to `mode` (bench/ingest-target.ts) in a process of its own; `meanwhile` runs beside the measured runs. */
async function hookThroughput(mode: 'forgeline' | 'floor', databaseUrl: string, meanwhile?: () => () => Promise<unknown>): Promise<number> {
  const child: ResultPromise = execa(process.execPath, [here('ingest-target.ts'), mode], { env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' }, reject: false });
  try {
    const first = await new Promise<string>((resolve, reject) => {
      child.stdout!.once('data', (c: Buffer) => resolve(c.toString()));
      child.then((r) => reject(new Error(`target ${mode} exited: ${r.stderr}`)));
    });
    const { port, hookPath } = JSON.parse(first);
    await closedLoop(port, hookPath, makePush, 500, 32);
    const stop = meanwhile?.();
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push((await closedLoop(port, hookPath, makePush, HOOKS, 32)).perSecond);
    await stop?.();
    return median(runs);
  } finally {
    child.kill();
    await child;
  }
}

async function childJson(file: string): Promise<Record<string, number>> {
  const { stdout, exitCode, stderr } = await execa(process.execPath, [here(file), '--json'], { reject: false, env: process.env });
  if (exitCode !== 0) throw new Error(`${file} failed: ${stderr}`);
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

const emptyDb = await benchDatabase();
const fullDb = await benchDatabase();
try {
  const empty = await measure('empty', emptyDb.url, EMPTY);
  const floorIngest = await hookThroughput('floor', emptyDb.url);
  const full = await measure('full', fullDb.url, SIZES);
  // Retention at work: what is older than 180 days goes, in serve's batches, while hooks arrive.
  const pruning = createPool(fullDb.url, 2);
  let pruned: PruneCounts | null = null;
  const whilePruning = await hookThroughput('forgeline', fullDb.url, () => {
    let stopped = false;
    const pass = prune({ pool: pruning, blobs: postgresBlobStore(pruning) }, new Date(Date.now() - 180 * 86_400_000), { pauseMs: 50, stopped: () => stopped }).then((went) => { pruned = went; });
    return async () => {
      stopped = true;
      await pass;
    };
  });
  await pruning.end();
  const logs = SKIP.has('logs') ? null : (say('── logs'), await childJson('logs.ts'));
  const workers = SKIP.has('workers') ? null : (say('── workers'), await childJson('workers.ts'));

  const sum = (api: Record<string, number>) => Object.values(api).reduce((a, b) => a + b, 0);
  const latencyFloorMs = empty.floor!.floor;
  const result = {
    deliveries: SIZES.deliveries,
    runs: SIZES.runs,
    ingest: { empty: Math.round(empty.ingest), full: Math.round(full.ingest), ratio: Number((full.ingest / empty.ingest).toFixed(2)), whilePruning: Math.round(whilePruning), pruningRatio: Number((whilePruning / full.ingest).toFixed(2)), pruned },
    latency: { emptyP50: Number(median(empty.latencies).toFixed(1)), fullP50: Number(median(full.latencies).toFixed(1)), ratio: Number((median(full.latencies) / median(empty.latencies)).toFixed(2)), emptyP99: Number(pct(empty.latencies, 99).toFixed(1)), fullP99: Number(pct(full.latencies, 99).toFixed(1)) },
    api: { emptyP50: Number(sum(empty.api).toFixed(1)), fullP50: Number(sum(full.api).toFixed(1)), ratio: Number((sum(full.api) / sum(empty.api)).toFixed(2)), pages: Object.fromEntries(Object.keys(empty.api).map((k) => [k, { empty: Number(empty.api[k]!.toFixed(1)), full: Number(full.api[k]!.toFixed(1)) }])) },
    monitor: { emptyMs: Number(empty.monitorMs.toFixed(1)), fullMs: Number(full.monitorMs.toFixed(1)) },
    planning: { emptyMs: Number(empty.planningMs.toFixed(1)), fullMs: Number(full.planningMs.toFixed(1)) },
    ingestVsFloor: Number((empty.ingest / floorIngest).toFixed(2)),
    ingestFloor: Math.round(floorIngest),
    latencyVsFloor: Number((median(empty.latencies) / latencyFloorMs).toFixed(2)),
    latencyP99VsFloor: Number((pct(empty.latencies, 99) / latencyFloorMs).toFixed(2)),
    latencyFloorMs: Number(latencyFloorMs.toFixed(1)),
    logs: logs && { lines: logs.lines, bareSeconds: logs.bareSeconds, seconds: logs.seconds, ratio: logs.ratio },
    workers: workers && { processes: workers.processes, stagesPerSecond: workers.stagesPerSecond, pgbossJobsPerSecond: workers.pgbossJobsPerSecond, ratio: workers.ratio, connections: workers.connections },
  };
  if (json) {
    console.log(JSON.stringify(result));
  } else {
    say(`scale benchmark: ${SIZES.deliveries} deliveries and ${SIZES.runs} runs against an empty database (a page's worth: ${EMPTY.deliveries} and ${EMPTY.runs}), in one run`);
    say(`hooks:            ${result.ingest.empty}/s empty, ${result.ingest.full}/s full: ratio ${result.ingest.ratio} (goal ≥ 0.8)`);
    say(`hooks while pruning (older than 180 days, serve's batches): ${result.ingest.whilePruning}/s: ${result.ingest.pruningRatio} of full; pruned meanwhile ${JSON.stringify(pruned)}`);
    say(`webhook → step:   p50 ${result.latency.emptyP50} ms empty, ${result.latency.fullP50} ms full: ratio ${result.latency.ratio} (goal ≤ 1.25); p99 ${result.latency.emptyP99} / ${result.latency.fullP99} ms`);
    say(`API and pages:    ${result.api.emptyP50} ms empty, ${result.api.fullP50} ms full (sum of medians): ratio ${result.api.ratio} (goal ≤ 1.25)`);
    for (const [k, v] of Object.entries(result.api.pages)) say(`  ${k.padEnd(34)} ${String(v.empty).padStart(7)} ms  ${String(v.full).padStart(7)} ms`);
    say(`monitor pass:     ${result.monitor.emptyMs} ms empty, ${result.monitor.fullMs} ms full`);
    say(`planning:         ${result.planning.emptyMs} ms empty, ${result.planning.fullMs} ms full (delivery stored → run created)`);
    say(`hooks against their floor (verify, parse, group-commit one row): ${result.ingest.empty}/s / ${result.ingestFloor}/s = ${result.ingestVsFloor} (goal ≥ 0.9)`);
    say(`webhook → step against its floor (${result.latencyFloorMs} ms): p50 ${result.latencyVsFloor}× (goal ≤ 1.2), p99 ${result.latencyP99VsFloor}× (goal ≤ 2)`);
    for (const [name, ms] of empty.floor!.parts) say(`  ${name.padEnd(42)} ${ms.toFixed(1).padStart(6)} ms`);
    if (result.logs) say(`logs:             ${result.logs.lines} lines in ${result.logs.seconds} s against ${result.logs.bareSeconds} s to a file: ratio ${result.logs.ratio} (goal ≤ 1.5)`);
    if (result.workers) say(`workers:          ${result.workers.processes} processes, ${result.workers.stagesPerSecond} stages/s against pg-boss's ${result.workers.pgbossJobsPerSecond} no-op jobs/s: ratio ${result.workers.ratio} (goal ≥ 0.5); at most ${result.workers.connections} connections per process (goal ≤ 4)`);
  }
} finally {
  await emptyDb.close();
  await fullDb.close();
}
