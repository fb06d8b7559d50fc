// npm run test:chaos — real processes, a PostgreSQL the run owns, loopback
// only, bounded in time. Under a steady load of signed webhooks: kill -9 the
// server and restart it, kill -9 a worker mid-stage, stop and restart
// PostgreSQL, and let the forge's status API fail, then rate-limit, for two
// minutes (CHAOS_FORGE_OUTAGE_SECONDS).
// Then: every delivery answered 2xx is processed exactly once, nothing stays
// running, and every status context ends on its run's final state.
import { execa, type ResultPromise } from 'execa';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../store/embedded.ts';
import { startFakeGitHub } from '../helpers/fake-github.ts';
import { createTestRepo } from '../helpers/git-repo.ts';
import { pushPayload, signGitHub } from '../helpers/github-webhook.ts';

const LOAD_SECONDS = Number(process.env.CHAOS_SECONDS ?? 45);
const bin = fileURLToPath(new URL('../../bin/forgeline.js', import.meta.url));
const freePort = () => new Promise<number>((resolve) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const { port } = s.address() as { port: number }; s.close(() => resolve(port)); }); });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (line: string) => process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);

const pgDir = await mkdtemp(path.join(tmpdir(), 'forgeline-chaos-pg-'));
await chmod(pgDir, 0o755);
let cluster = await startEmbeddedPostgres(pgDir);
const dataDir = await mkdtemp(path.join(tmpdir(), 'forgeline-chaos-data-'));
await chmod(dataDir, 0o755);
const github = await startFakeGitHub();
const repo = await createTestRepo();
const base = await repo.commit({ '.forgeline/ci.yml': 'on: { push: {} }\nstages:\n  work:\n    steps: [{ run: "sleep 0.3" }]\n' });
// A commit of its own for every delivery (branch b<i>): a status context is per commit, so
// each run's final state must reach the forge on its own commit. One fast-import makes them all.
const commits = LOAD_SECONDS * 12 + 100;
const stream = Array.from({ length: commits }, (_, i) =>
  `commit refs/heads/b${i}\ncommitter Chaos <chaos@forgeline.invalid> 1700000000 +0000\ndata ${String(i).length}\n${i}\nfrom ${base}\n\n`).join('');
await execa('git', ['fast-import', '--quiet'], { cwd: repo.bare, input: stream });
const shaOf = new Map((await execa('git', ['for-each-ref', '--format=%(refname:short) %(objectname)', 'refs/heads/'], { cwd: repo.bare })).stdout
  .split('\n').map((line) => line.split(' ') as [string, string]));
const port = await freePort();
const env = {
  PATH: process.env.PATH, DATABASE_URL: cluster.url, FORGELINE_DATA_DIR: dataDir, FORGELINE_ALLOW_LOCAL: 'true', FORGELINE_SECRET_KEY: 'chaos',
  FORGELINE_PUBLIC_URL: `http://127.0.0.1:${port}`, FORGELINE_HEARTBEAT_SECONDS: '3', LOG_LEVEL: 'error', GH_TOKEN: 'chaos-token',
  // The CLI is a client of the server's API: the bootstrap admin token, and the server once it listens.
  FORGELINE_API_TOKEN: 'chaos-admin', FORGELINE_TOKEN: 'chaos-admin', FORGELINE_SERVER: `http://127.0.0.1:${port}`,
};

let settled = false;
function start(args: string[], ready: string): Promise<{ child: ResultPromise }> {
  const child = execa(process.execPath, [bin, ...args], { env, extendEnv: false, reject: false });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => { if (c.toString().includes(ready)) resolve({ child }); });
    child.then((r) => {
      reject(new Error(`${args[0]} exited: ${r.stderr}`));
      // A process that dies on its own (not killed by the harness) explains whatever stops moving after it.
      if (r.signal !== 'SIGKILL' && !settled) log(`${args[0]} exited by itself (code ${r.exitCode}): ${r.stderr.slice(-800)}`);
    });
  });
}
let server = (await start(['serve', '--port', String(port), '--workers', '0'], 'listening')).child;
const cli = await execa(process.execPath, [bin, 'repo', 'add', '--forge', 'github', '--name', 'acme/chaos', '--clone-url', repo.cloneUrl, '--api-url', github.apiUrl, '--token-env', 'GH_TOKEN'], { env, extendEnv: false });
const hook = JSON.parse(cli.stdout) as { hookUrl: string; secret: string };
const workers = [(await start(['worker', '--concurrency', '2'], 'started')).child, (await start(['worker', '--concurrency', '2'], 'started')).child];

// The forge's status API fails with 500 for the first half of the outage, then
// rate-limits with Retry-After for the second half, then recovers.
const FORGE_OUTAGE_SECONDS = Number(process.env.CHAOS_FORGE_OUTAGE_SECONDS ?? 120);
const outageStarted = Date.now();
github.failNext(Number.MAX_SAFE_INTEGER, 500);
const forgeRateLimits = setTimeout(() => { log('forge: 500s over, now 429 with Retry-After: 10'); github.failNext(Number.MAX_SAFE_INTEGER, 429, { 'retry-after': '10' }); }, FORGE_OUTAGE_SECONDS * 500);
const forgeRecovers = setTimeout(() => { log('forge: back'); github.failNext(0, 500); }, FORGE_OUTAGE_SECONDS * 1000);

const sent: Array<{ id: string; status: number }> = [];
let stop = false;
const load = (async () => {
  for (let i = 0; !stop && i < commits; i++) {
    const payload = pushPayload({ name: 'acme/chaos', cloneUrl: repo.cloneUrl }, shaOf.get(`b${i}`)!, { branch: `b${i}`, before: base });
    const body = JSON.stringify(payload);
    const id = `chaos-${i}`;
    let status = 0;
    try {
      const res = await fetch(hook.hookUrl, { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': id, 'x-hub-signature-256': signGitHub(hook.secret, body) }, signal: AbortSignal.timeout(5000) });
      status = res.status;
      await res.arrayBuffer();
    } catch {
      status = 0;
    }
    sent.push({ id, status });
    await sleep(100);
  }
})();

let workerKilledAt = new Date(0);
// A stage lost with its worker must be final within FORGELINE_HEARTBEAT_SECONDS plus one monitor
// pass (half a heartbeat, jittered up to +25%), with a second for the database round trips.
const DETECTION_WINDOW_SECONDS = 3 + 1.5 * 1.25 + 1;
const chaos = async () => {
  await sleep(8000);
  log('kill -9 the server'); server.kill('SIGKILL'); await server; await sleep(1000);
  server = (await start(['serve', '--port', String(port), '--workers', '0'], 'listening')).child; log('server back');
  await sleep(6000);
  log('kill -9 a worker mid-stage'); workerKilledAt = new Date(); workers[0]!.kill('SIGKILL'); await workers[0]; await sleep(1000);
  workers[0] = (await start(['worker', '--concurrency', '2'], 'started')).child; log('worker back');
  await sleep(6000);
  log('stop PostgreSQL'); await cluster.stop(); await sleep(3000);
  cluster = await startEmbeddedPostgres(pgDir); log('PostgreSQL back');
  await sleep(6000);
  log('kill -9 the server again'); server.kill('SIGKILL'); await server; await sleep(500);
  server = (await start(['serve', '--port', String(port), '--workers', '0'], 'listening')).child; log('server back');
};
await Promise.all([chaos(), sleep(LOAD_SECONDS * 1000).then(() => { stop = true; })]);
await load;
log(`load over: ${sent.length} sent`);

// Let the system settle: every run final within a bounded wait.
const db = new pg.Client({ connectionString: cluster.url });
await db.connect();
const deadline = Date.now() + 120_000;
let unfinished = -1;
while (Date.now() < deadline) {
  unfinished = (await db.query(`SELECT count(*)::int AS n FROM stages WHERE status IN ('queued', 'waiting', 'running')`)).rows[0].n;
  const planned = (await db.query(`SELECT count(*)::int AS n FROM deliveries WHERE status = 'accepted' AND explain = '[]'`)).rows[0].n;
  if (unfinished === 0 && planned === 0) break;
  await sleep(1000);
}
const acked = sent.filter((s) => s.status >= 200 && s.status < 300).map((s) => s.id);
const rows = (await db.query(
  `SELECT d.forge_delivery_id AS id, count(r.id)::int AS runs FROM deliveries d LEFT JOIN runs r ON r.delivery_id = d.id
   WHERE d.status = 'accepted' GROUP BY d.forge_delivery_id`)).rows as Array<{ id: string; runs: number }>;
const runsOf = new Map(rows.map((r) => [r.id, r.runs]));
const processed = acked.filter((id) => runsOf.get(id) === 1).length;
const duplicated = acked.filter((id) => (runsOf.get(id) ?? 0) > 1).length;
const lost = acked.filter((id) => !runsOf.get(id)).length;
const stuck = (await db.query(`SELECT count(*)::int AS n FROM stages WHERE status IN ('queued', 'waiting', 'running')`)).rows[0].n;
const lostStages = (await db.query(
  `SELECT count(*)::int AS n, coalesce(max(extract(epoch FROM finished_at - $1::timestamptz)), 0)::float AS slowest
   FROM stages WHERE reason = 'worker lost' AND finished_at > $1`, [workerKilledAt])).rows[0] as { n: number; slowest: number };
const lateLost = lostStages.slowest > DETECTION_WINDOW_SECONDS;
// Every step is `sleep 0.3`: a stage that failed for any other reason than its lost worker failed for the chaos.
const failedStages = (await db.query(
  `SELECT reason, count(*)::int AS n FROM stages WHERE status = 'failure' AND reason IS DISTINCT FROM 'worker lost' GROUP BY 1 ORDER BY 2 DESC LIMIT 5`)).rows as Array<{ reason: string; n: number }>;
// Every context of every run — the run's own and its stage's — must end on the forge on its final
// state, within 30 s of the later of: the system settling, the forge coming back.
const finals = (await db.query(
  `SELECT r.id, r.sha, r.status, s.status AS "stageStatus" FROM runs r JOIN stages s ON s.run_id = r.id AND s.name = 'work'`)).rows as Array<{ id: number; sha: string; status: string; stageStatus: string }>;
await sleep(Math.max(0, outageStarted + FORGE_OUTAGE_SECONDS * 1000 - Date.now()));
await sleep(30_000);
const expected: Record<string, string> = { success: 'success', failure: 'failure', canceled: 'error', skipped: 'success' };
const latest = new Map<string, string>();
for (const s of github.statuses) latest.set(`${s.sha} ${s.context}`, s.state);
const isWrong = (r: (typeof finals)[number]) =>
  latest.get(`${r.sha} forgeline/ci/push`) !== expected[r.status] || latest.get(`${r.sha} forgeline/ci/push/work`) !== expected[r.stageStatus];
const wrongStatus = finals.filter(isWrong).length;

console.log('\n| deliveries sent | acknowledged (2xx) | refused (503 / no answer) | processed once | duplicated | lost | stages stuck | runs whose status is not final on the forge |');
console.log('|---|---|---|---|---|---|---|---|');
console.log(`| ${sent.length} | ${acked.length} | ${sent.length - acked.length} | ${processed} | ${duplicated} | ${lost} | ${stuck} | ${wrongStatus} |`);
console.log(`\nstages lost with the killed worker: ${lostStages.n}, all final within ${lostStages.slowest.toFixed(1)} s of the kill (window ${DETECTION_WINDOW_SECONDS.toFixed(1)} s)`);
console.log(`stages failed for another reason: ${failedStages.length ? failedStages.map((f) => `${f.n} × ${f.reason}`).join('; ') : 'none'}`);

if (lost || stuck || wrongStatus) {
  // What the missing ones look like, for whoever debugs this.
  const missing = acked.filter((id) => !runsOf.get(id)).slice(0, 5);
  console.log('deliveries without a run:', JSON.stringify((await db.query(
    `SELECT forge_delivery_id, status, reason, explain::text FROM deliveries WHERE forge_delivery_id = ANY($1::text[])`, [missing])).rows));
  console.log('pg-boss jobs by queue and state:', JSON.stringify((await db.query(
    `SELECT name, state, count(*)::int AS n FROM pgboss.job GROUP BY 1, 2 ORDER BY 1, 2`)).rows));
  console.log('failed and active jobs:', JSON.stringify((await db.query(
    `SELECT name, state, retry_count, left(output::text, 200) AS output, started_on FROM pgboss.job WHERE state IN ('failed', 'active') ORDER BY name LIMIT 8`)).rows));
  const wrong = finals.filter(isWrong).slice(0, 3).map((r) => r.id);
  console.log('runs whose status is not final, with their report records:', JSON.stringify((await db.query(
    `SELECT r.id, r.status, r.report_due, r.updated_at, s.state, s.posted_at, s.error FROM runs r
     LEFT JOIN status_reports s ON s.run_id = r.id AND s.context = 'forgeline/ci/push' WHERE r.id = ANY($1::bigint[])`, [wrong])).rows));
  console.log('runs with a report due:', JSON.stringify((await db.query(
    `SELECT status, count(*)::int AS n, min(report_due) AS oldest FROM runs WHERE report_due IS NOT NULL GROUP BY 1`)).rows));
  console.log('report jobs by retry limit and state:', JSON.stringify((await db.query(
    `SELECT state, retry_limit, left(singleton_key, 7) AS key, count(*)::int AS n FROM pgboss.job WHERE name = 'report' GROUP BY 1, 2, 3`)).rows));
  console.log('stuck stages by status:', JSON.stringify((await db.query(
    `SELECT status, waiting_for, count(*)::int AS n FROM stages WHERE status IN ('queued', 'waiting', 'running') GROUP BY 1, 2`)).rows));
}
await db.end();
settled = true;
server.kill('SIGTERM');
for (const w of workers) w.kill('SIGTERM');
await Promise.allSettled([server, ...workers]);
await cluster.stop();
clearTimeout(forgeRateLimits);
clearTimeout(forgeRecovers);
await github.close();
await rm(pgDir, { recursive: true, force: true });
await rm(dataDir, { recursive: true, force: true });
process.exit(lost || duplicated || stuck || wrongStatus || lateLost || failedStages.length ? 1 : 0);
