// The logs benchmark: a step printing 1,000,000 lines (about 90 MB) through
// a server — masking (the stage holds a secret), storage in pages of rows,
// and a live follower reading the log as server-sent events — against the
// same command writing to a file, in the same run. Prints the ratio of the
// two wall times; the goal is ≤ 1.5. `--json` prints the numbers alone.
import { stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { spawnStep } from '../runners/index.ts';
import { setSecret, triggerManual } from '../scheduler/index.ts';
import { createTestRepo } from '../test/helpers/git-repo.ts';
import { cpuMeter } from './cpu-usage.ts';
import { startBenchServer } from './server.ts';

const LINES = Number(process.env.BENCH_LOG_LINES ?? 1_000_000);
const json = process.argv.includes('--json');
const say = (line: string) => { if (!json) console.log(line); };
const COMMAND = `seq 1 ${LINES} | awk '{ printf "%07d the quick brown fox jumps over the lazy dog, line after line of build output\\n", $1 }'`;

const bench = await startBenchServer({ FORGELINE_LOG_MAX_BYTES: String(512 * 1024 * 1024) }, 1);
const { runtime, dataDir, base } = bench;
try {
  // The baseline: the same command, its output to a file.
  const file = path.join(dataDir, 'out.log');
  const t0 = performance.now();
  const bare = await spawnStep({ run: `${COMMAND} > ${file}`, cwd: dataDir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } }).exited;
  const bareSeconds = (performance.now() - t0) / 1000;
  if (bare.exitCode !== 0) throw new Error(`the baseline command failed: ${bare.error ?? bare.exitCode}`);
  const bytes = (await stat(file)).size;

  const repo = await createTestRepo();
  await repo.commit({ '.forgeline/ci.yml': `on: { manual: {} }\nstages:\n  big:\n    secrets: [TOKEN]\n    steps: [{ run: ${JSON.stringify(COMMAND)} }]\n` });
  await bench.register('acme/logs', repo.cloneUrl);
  await setSecret(runtime.deps, { repo: 'acme/logs', name: 'TOKEN', value: 'a-secret-the-masker-looks-for' }, 'bench');
  const pool = runtime.db.pool;
  const used = cpuMeter();
  const started = performance.now();
  const { delivery } = await triggerManual(runtime.deps, { repo: 'acme/logs', ref: 'main' }, 'bench');
  let runId: number | undefined;
  while (runId === undefined) {
    const { rows } = await pool.query(`SELECT r.id::int AS id FROM runs r JOIN stages s ON s.run_id = r.id WHERE r.delivery_id = $1 AND s.status = 'running'`, [delivery]);
    runId = rows[0]?.id;
    if (runId === undefined) await new Promise((r) => setTimeout(r, 5));
  }
  // The live follower: every chunk as it is stored, until the stage ends.
  let followed = 0;
  const follow = (async () => {
    const res = await fetch(`${base}/api/runs/${runId}/stages/big/log`, { headers: { accept: 'text/event-stream' } });
    const reader = res.body!.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      followed += value.length;
    }
  })();
  await follow;
  const seconds = (performance.now() - started) / 1000;
  const cpu = used();
  const { rows: [stored] } = await pool.query(`SELECT count(*)::int AS rows, sum(octet_length(chunk))::float8 AS bytes FROM stage_logs WHERE run_id = $1`, [runId]);
  const { rows: [stage] } = await pool.query(`SELECT status, extract(epoch FROM finished_at - started_at)::float8 AS seconds FROM stages WHERE run_id = $1`, [runId]);
  if (stage.status !== 'success') throw new Error(`the stage ended ${stage.status}`);
  const result = {
    lines: LINES, bytes, bareSeconds: Number(bareSeconds.toFixed(2)), seconds: Number(seconds.toFixed(2)), ratio: Number((seconds / bareSeconds).toFixed(2)),
    stageSeconds: Number(stage.seconds.toFixed(2)), storedRows: stored.rows, storedBytes: stored.bytes, followedBytes: followed,
    // CPU seconds of the whole machine meanwhile (every process; PostgreSQL's share apart).
    cpuSeconds: cpu && Number((cpu.busy / 1e6).toFixed(2)), postgresCpuSeconds: cpu && Number((cpu.postgres / 1e6).toFixed(2)),
  };
  if (json) console.log(JSON.stringify(result));
  say(`logs benchmark: a step printing ${LINES} lines (${(bytes / 1e6).toFixed(0)} MB), masked, stored and followed live`);
  say(`the command writing to a file:        ${result.bareSeconds} s`);
  say(`the stage (claimed → result recorded):  ${result.stageSeconds} s`);
  say(`through Forgeline (trigger → follower sees the end): ${result.seconds} s, stored as ${stored.rows} rows (${(stored.bytes / 1e6).toFixed(0)} MB), the follower read ${(followed / 1e6).toFixed(0)} MB`);
  if (cpu) say(`CPU of the machine meanwhile: ${result.cpuSeconds} s (PostgreSQL ${result.postgresCpuSeconds} s), on ${availableParallelism()} cores`);
  say(`ratio: ${result.ratio}× (goal ≤ 1.5×)`);
} finally {
  await bench.close();
}
