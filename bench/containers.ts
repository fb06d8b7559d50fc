// The container benchmark: one-step `true` stages in an image, one at a
// time, through a server with the docker back end on a private Podman
// service, against bare `podman run --rm --network none IMAGE true` measured
// in the same run. Prints the median stage dispatch (stage queued → step
// started) and the median whole stage (queued → result recorded) over the
// median bare run; the goal is ≤ 1.3×. `--json` prints the numbers alone.
import { execa } from 'execa';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { readConfig } from '../cli/config.ts';
import { openRuntime } from '../cli/runtime.ts';
import { registerRepo } from '../ingest/index.ts';
import { dockerBackend, type Backend } from '../runners/index.ts';
import { CONTAINER_LABEL, startWorkers, triggerManual } from '../scheduler/index.ts';
import { createTestRepo } from '../test/helpers/git-repo.ts';
import { engineMissing, startPodman } from '../test/helpers/podman.ts';
import { benchDatabase } from './database.ts';
import { acceptingForge } from './forge.ts';

const STAGES = Number(process.env.BENCH_CONTAINER_STAGES ?? 10);
const json = process.argv.includes('--json');
const say = (line: string) => { if (!json) console.log(line); };
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const missing = engineMissing();
if (missing) {
  console.error(`container benchmark: ${missing}`);
  process.exit(1);
}
const engine = await startPodman();
const db = await benchDatabase();
const forge = await acceptingForge();
const dataDir = await mkdtemp(path.join(tmpdir(), 'forgeline-bench-containers-'));
try {
  // The baseline: the engine's own CLI, cold process and all, the same image and command.
  const bare: number[] = [];
  for (let i = 0; i < STAGES; i++) {
    const t = performance.now();
    await execa('podman', ['run', '--rm', '--network', 'none', engine.image, 'true'], { env: engine.env });
    bare.push(performance.now() - t);
  }

  const config = readConfig({ DATABASE_URL: db.url, FORGELINE_DATA_DIR: dataDir, FORGELINE_ALLOW_LOCAL: 'true', FORGELINE_SECRET_KEY: 'bench' }, { port: 0 });
  const runtime = await openRuntime(config, pino({ level: 'silent' }));
  // When each step started: the step loop writes its `▶` line just before it execs the step.
  const stepStarted = new Map<string, number>();
  const inner = dockerBackend({ host: engine.host, network: 'none' });
  const timed: Backend = {
    ...inner,
    runStage: (spec) => inner.runStage({ ...spec, log: (chunk) => { if (chunk.startsWith('▶')) stepStarted.set(String(spec.context.runId), Date.now()); spec.log(chunk); } }),
  };
  runtime.deps.backend = timed;
  const repo = await createTestRepo();
  await repo.commit({ '.forgeline/ci.yml': `on: { manual: {} }\nstages:\n  one:\n    image: ${engine.image}\n    steps: [{ run: "true" }]\n` });
  await registerRepo({ pool: runtime.db.pool, box: runtime.deps.box, publicUrl: 'http://bench', urls: config.urls }, { forge: 'github', name: 'acme/containers', cloneUrl: repo.cloneUrl, apiUrl: forge.apiUrl }, 'bench');
  const workers = await startWorkers(runtime.deps, { concurrency: 1, labels: [CONTAINER_LABEL] });

  const dispatch: number[] = [];
  const whole: number[] = [];
  // One warm-up stage: the first fetch of the repository and the first container are not what is measured.
  for (let i = -1; i < STAGES; i++) {
    const { delivery } = await triggerManual(runtime.deps, { repo: 'acme/containers', ref: 'main' }, 'bench');
    let row: { run: number; status: string; queued: number; finished: number } | undefined;
    for (;;) {
      const { rows } = await runtime.db.pool.query(
        `SELECT r.id::int AS run, s.status, extract(epoch FROM s.queued_at) * 1000 AS queued, extract(epoch FROM s.finished_at) * 1000 AS finished
         FROM runs r JOIN stages s ON s.run_id = r.id WHERE r.delivery_id = $1`, [delivery]);
      row = rows[0];
      if (row && ['success', 'failure', 'canceled'].includes(row.status)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    if (row.status !== 'success') throw new Error(`run ${row.run} ended ${row.status}`);
    if (i < 0) continue;
    dispatch.push(stepStarted.get(String(row.run))! - Number(row.queued));
    whole.push(Number(row.finished) - Number(row.queued));
  }
  await workers.stop();
  await runtime.close();

  const result = {
    stages: STAGES,
    bareMs: Math.round(median(bare)),
    dispatchMs: Math.round(median(dispatch)),
    stageMs: Math.round(median(whole)),
    ratio: Number((median(whole) / median(bare)).toFixed(2)),
    goal: 1.3,
  };
  if (json) console.log(JSON.stringify(result));
  say(`container benchmark: ${STAGES} one-step \`true\` stages in ${engine.image}, one at a time, Podman through its Docker-compatible API`);
  say(`bare \`podman run --rm --network none IMAGE true\`:  ${result.bareMs} ms (median)`);
  say(`stage dispatch (queued → step started):          ${result.dispatchMs} ms (median)`);
  say(`whole stage (queued → result recorded):          ${result.stageMs} ms (median)`);
  say(`ratio, whole stage / bare run: ${result.ratio}× (goal ≤ ${result.goal}×)`);
} finally {
  await engine.stop();
  await forge.close();
  await db.close();
  await rm(dataDir, { recursive: true, force: true });
}
