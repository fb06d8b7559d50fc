// npm run bench:latency — webhook-to-first-step latency of a one-stage
// pipeline, next to its floor measured in the same run: two pg-boss hops
// (plan, then stage) and every git operation and process spawn on the path,
// each timed alone.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { readConfig } from '../cli/config.ts';
import { openRuntimeWithWorkers } from '../cli/runtime.ts';
import { registerRepo } from '../ingest/index.ts';
import { listen } from '../server/index.ts';
import { createTestRepo } from '../test/helpers/git-repo.ts';
import { pushPayload, sendGitHubHook } from '../test/helpers/github-webhook.ts';
import { benchDatabase } from './database.ts';
import { acceptingForge } from './forge.ts';
import { latencyFloor, pct } from './latency-floor.ts';

const N = Number(process.env.BENCH_RUNS ?? 40);
const nowNs = () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));

const db = await benchDatabase();
const forge = await acceptingForge();
const dataDir = await mkdtemp(path.join(tmpdir(), 'forgeline-bench-latency-'));
const marks = await mkdtemp(path.join(tmpdir(), 'forgeline-bench-marks-'));
const config = readConfig({ DATABASE_URL: db.url, FORGELINE_DATA_DIR: dataDir, FORGELINE_ALLOW_LOCAL: 'true', FORGELINE_SECRET_KEY: 'bench' }, { port: 0 });
const runtime = await openRuntimeWithWorkers(config, { concurrency: 2, backstopPollSeconds: 30 }, pino({ level: 'silent' }));
const server = await listen(runtime.deps, runtime.ingest, { auth: { apiToken: undefined, publicRead: true }, bodyLimitBytes: config.bodyLimitBytes, urls: config.urls }, 0, '127.0.0.1');
const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
const repo = await createTestRepo();
const hook = await registerRepo({ pool: runtime.db.pool, box: runtime.deps.box, publicUrl: base, urls: config.urls }, { forge: 'github', name: 'acme/latency', cloneUrl: repo.cloneUrl, apiUrl: forge.apiUrl }, 'bench');
// The step records when it started, in nanoseconds since the epoch.
const pipeline = `on: { push: {} }\nstages:\n  first:\n    steps: [{ run: "date +%s%N > ${marks}/$FORGELINE_SHA" }]\n`;

async function deliver(sha: string, before: string): Promise<number> {
  const sent = nowNs();
  const res = await sendGitHubHook(hook.hookUrl, hook.secret, 'push', pushPayload({ name: 'acme/latency', cloneUrl: repo.cloneUrl }, sha, { before }));
  if (res.status !== 202) throw new Error(`hook answered ${res.status}`);
  const mark = path.join(marks, sha);
  while (!existsSync(mark) || !(await readFile(mark, 'utf8')).trim()) await new Promise((r) => setTimeout(r, 1));
  return Number(BigInt((await readFile(mark, 'utf8')).trim()) - sent) / 1e6;
}

let before = await repo.commit({ '.forgeline/ci.yml': pipeline }, 'pipeline');
// Warm: the mirror exists, the code paths are compiled.
for (let i = 0; i < 3; i++) {
  const sha = await repo.commit({ 'n.txt': `warm ${i}` });
  await deliver(sha, before);
  before = sha;
}
const latencies: number[] = [];
for (let i = 0; i < N; i++) {
  const sha = await repo.commit({ 'n.txt': String(i) });
  latencies.push(await deliver(sha, before));
  before = sha;
}

// The floor, each part alone, on the same repository and machine.
const { parts: floorParts, floor } = await latencyFloor(runtime.deps.boss, repo, dataDir);

console.log(`latency benchmark: ${N} signed pushes, one-stage pipeline, warm mirror, 2 in-process workers`);
console.log(`webhook → first step: p50 ${pct(latencies, 50).toFixed(1)} ms, p99 ${pct(latencies, 99).toFixed(1)} ms (targets: p50 < 50, p99 < 200)`);
console.log('floor, each part timed alone (medians):');
for (const [name, ms] of floorParts) console.log(`  ${name.padEnd(42)} ${ms.toFixed(1).padStart(6)} ms`);
console.log(`  ${'sum'.padEnd(42)} ${floor.toFixed(1).padStart(6)} ms`);
console.log(`p50 / floor: ${(pct(latencies, 50) / floor).toFixed(2)} (target ≤ 2)`);

server.close();
await runtime.close();
await forge.close();
await db.close();
await rm(dataDir, { recursive: true, force: true });
await rm(marks, { recursive: true, force: true });
