// The scheduling benchmark: 1,000 runs of 3 stages of `true` through 4
// workers, showing the dispatch overhead per stage next to a bare process
// spawn of the same step measured in the same run.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { readConfig } from '../cli/config.ts';
import { openRuntime } from '../cli/runtime.ts';
import { startWorkers, triggerManual } from '../scheduler/index.ts';
import { registerRepo, replayDelivery } from '../ingest/index.ts';
import { spawnStep } from '../runners/index.ts';
import { createTestRepo } from '../test/helpers/git-repo.ts';
import { benchDatabase } from './database.ts';
import { acceptingForge } from './forge.ts';

const RUNS = Number(process.env.BENCH_DISPATCH_RUNS ?? 1000);
const db = await benchDatabase();
const forge = await acceptingForge();
const dataDir = await mkdtemp(path.join(tmpdir(), 'forgeline-bench-dispatch-'));
const config = readConfig({ DATABASE_URL: db.url, FORGELINE_DATA_DIR: dataDir, FORGELINE_ALLOW_LOCAL: 'true', FORGELINE_SECRET_KEY: 'bench' }, { port: 0 });
// Workers start only once every run is planned: the time measured is dispatch and execution alone.
const runtime = await openRuntime(config, pino({ level: 'silent' }));
const repo = await createTestRepo();
await repo.commit({ '.forgeline/ci.yml': 'on: { manual: {} }\nstages:\n  a: { steps: [{ run: "true" }] }\n  b: { steps: [{ run: "true" }] }\n  c: { steps: [{ run: "true" }] }\n' });
await registerRepo({ pool: runtime.db.pool, box: runtime.deps.box, publicUrl: 'http://bench', urls: config.urls }, { forge: 'github', name: 'acme/dispatch', cloneUrl: repo.cloneUrl, apiUrl: forge.apiUrl }, 'bench');

// The baseline: the same step spawned bare, as many times as there are stages, 4 at a time.
const stages = RUNS * 3;
const spawnStart = performance.now();
for (let i = 0; i < stages; i += 4) await Promise.all([0, 1, 2, 3].map(() => spawnStep({ run: 'true', cwd: dataDir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } }).exited));
const spawnMs = (performance.now() - spawnStart) / stages;

const first = await triggerManual(runtime.deps, { repo: 'acme/dispatch', ref: 'main' }, 'bench');
for (let i = 1; i < RUNS; i++) await replayDelivery(runtime.deps, first.delivery, 'bench');
const started = performance.now();
const workers = await startWorkers(runtime.deps, { concurrency: 4, backstopPollSeconds: 30 });
for (;;) {
  const { rows } = await runtime.db.pool.query(`SELECT count(*)::int AS n FROM stages WHERE status IN ('success', 'failure')`);
  if (rows[0].n >= stages) break;
  await new Promise((r) => setTimeout(r, 200));
}
const totalMs = performance.now() - started;
const perStage = (totalMs * 4) / stages;
console.log(`dispatch benchmark: ${RUNS} runs × 3 stages of \`true\`, 4 workers`);
console.log(`bare process spawn of the step:        ${spawnMs.toFixed(1)} ms per stage`);
console.log(`through Forgeline (queued → result):   ${perStage.toFixed(1)} ms of worker time per stage (${(totalMs / 1000).toFixed(1)} s in all)`);
console.log(`dispatch overhead per stage: ${(perStage - spawnMs).toFixed(1)} ms (${(perStage / spawnMs).toFixed(1)}× the bare spawn)`);
await workers.stop();
await runtime.close();
await forge.close();
await db.close();
await rm(dataDir, { recursive: true, force: true });
