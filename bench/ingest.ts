// npm run bench:ingest — Forgeline's hook against the least a correct receiver
// does, measured in the same run at the same concurrency (issue: ingest speed).
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { execa, type ResultPromise } from 'execa';
import { fileURLToPath } from 'node:url';
import { githubExamples } from '../test/helpers/github-webhook.ts';
import { benchDatabase } from './database.ts';
import { cpuCeiling, cpuPerRequest, type CpuShare } from './cpu-usage.ts';
import { closedLoop, openLoop, type LoadResult, type MakeRequest } from './load.ts';

const TOTAL = Number(process.env.BENCH_REQUESTS ?? 6000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const RATE = 1000;
const secret = 'bench-secret';
const target = fileURLToPath(new URL('./ingest-target.ts', import.meta.url));

const template = githubExamples('push').find((p) => p.ref.startsWith('refs/heads/') && p.head_commit);
template.repository.full_name = 'acme/bench';

/** A distinct, signed push per request: each is accepted, none a duplicate. */
const makePush: MakeRequest = () => {
  const sha = randomBytes(20).toString('hex');
  const body = Buffer.from(JSON.stringify({ ...template, after: sha, head_commit: { ...template.head_commit, id: sha } }));
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'push',
      'x-github-delivery': randomUUID(),
      'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
    },
  };
};

async function startTarget(mode: string, env: NodeJS.ProcessEnv): Promise<{ child: ResultPromise; port: number; hookPath: string }> {
  // BENCH_PROF=DIR writes a CPU profile of Forgeline's process there.
  const prof = process.env.BENCH_PROF && mode !== 'baseline' ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`] : [];
  const child = execa(process.execPath, [...prof, target, mode], { env, reject: false });
  const first = await new Promise<string>((resolve, reject) => {
    child.stdout!.once('data', (c: Buffer) => resolve(c.toString()));
    child.then((r) => reject(new Error(`target ${mode} exited: ${r.stderr}`)));
  });
  return { child, ...JSON.parse(first) };
}

type Measured = LoadResult & { cpu: CpuShare | null };
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (r: LoadResult) => `${r.perSecond.toFixed(0).padStart(6)} req/s  p50 ${r.p50.toFixed(1).padStart(6)} ms  p99 ${r.p99.toFixed(1).padStart(6)} ms  ${JSON.stringify(r.statuses)}`;
const fmtCpu = (c: CpuShare | null) => !c ? '' : `\n      CPU per request: client ${c.client.toFixed(0)} µs, server ${c.server.toFixed(0)} µs, PostgreSQL ${c.postgres.toFixed(0)} µs; machine ${(100 * c.busy).toFixed(0)}% busy`;

const db = await benchDatabase();
const env = { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'silent' };
try {
  const a = await startTarget('baseline', env);
  const b = await startTarget('forgeline', env);
  const results: { a: Measured[]; b: Measured[] } = { a: [], b: [] };
  // Warm both (JIT, connection pools), then alternate runs so drift hits both alike.
  await closedLoop(a.port, a.hookPath, makePush, 500, CONCURRENCY);
  await closedLoop(b.port, b.hookPath, makePush, 500, CONCURRENCY);
  for (let i = 0; i < RUNS; i++) {
    results.a.push(await cpuPerRequest(a.child.pid!, () => closedLoop(a.port, a.hookPath, makePush, TOTAL, CONCURRENCY)));
    results.b.push(await cpuPerRequest(b.child.pid!, () => closedLoop(b.port, b.hookPath, makePush, TOTAL, CONCURRENCY)));
  }
  const paced = await openLoop(b.port, b.hookPath, makePush, RATE, 5);
  a.child.kill();
  b.child.kill('SIGINT');
  await b.child;

  console.log(`ingest benchmark: ${TOTAL} signed push deliveries per run, ${CONCURRENCY} concurrent clients, ${RUNS} runs each (medians)`);
  results.a.forEach((r, i) => console.log(`  run ${i + 1} (a) verify+parse only: ${fmt(r)}${fmtCpu(r.cpu)}`));
  results.b.forEach((r, i) => console.log(`  run ${i + 1} (b) forgeline hook:    ${fmt(r)}${fmtCpu(r.cpu)}`));
  const ta = median(results.a.map((r) => r.perSecond));
  const tb = median(results.b.map((r) => r.perSecond));
  console.log(`(a) verify + parse + 202:          ${ta.toFixed(0)} req/s, p50 ${median(results.a.map((r) => r.p50)).toFixed(1)} ms, p99 ${median(results.a.map((r) => r.p99)).toFixed(1)} ms`);
  console.log(`(b) forgeline (stored + plan job): ${tb.toFixed(0)} req/s, p50 ${median(results.b.map((r) => r.p50)).toFixed(1)} ms, p99 ${median(results.b.map((r) => r.p99)).toFixed(1)} ms`);
  console.log(`ratio b/a: ${(tb / ta).toFixed(2)} (target ≥ 0.5)`);
  if (results.a.every((r) => r.cpu) && results.b.every((r) => r.cpu)) {
    // The ratio b/a would reach if both kept every core busy: the bound that CPU cost alone sets.
    const ca = median(results.a.map((r) => cpuCeiling(r.cpu!)));
    const cb = median(results.b.map((r) => cpuCeiling(r.cpu!)));
    console.log(`at this CPU cost per request, with every core busy: (a) ${ca.toFixed(0)} req/s, (b) ${cb.toFixed(0)} req/s, b/a at most ${(cb / ca).toFixed(2)}`);
  }
  console.log(`(b) paced at ${RATE} req/s for 5 s: ${fmt(paced)} (target p99 < 25 ms)`);
} finally {
  await db.close();
}
