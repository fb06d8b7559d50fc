// The pages benchmark: the runs list, a run's page, a pipeline's page, a
// badge and the API's runs list, each timed (median of 30 requests) on a
// database holding 50 runs (a full first page), then again with 10,000
// runs of the same repository and pipeline (seeded with SQL, 4 stages each),
// in the same run. Prints each page's ratio, 10,000 runs against 50; a page
// that reads only what it shows (a page of 50, keyset cursors, indexed
// lookups) stays near 1.
import { createTestRepo } from '../test/helpers/git-repo.ts';
import { pushPayload, sendGitHubHook } from '../test/helpers/github-webhook.ts';
import { startBenchServer } from './server.ts';

const RUNS = Number(process.env.BENCH_PAGES_RUNS ?? 10_000);
const REQUESTS = 30;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const bench = await startBenchServer();
const { runtime, base } = bench;
try {
  const repo = await createTestRepo();
  const hook = await bench.register('acme/pages', repo.cloneUrl);
  const pipeline = `on: { push: {} }\nstages:\n  build: { steps: [{ run: "true" }] }\n  test: { needs: [build], steps: [{ run: "true" }] }\n  lint: { needs: [build], steps: [{ run: "true" }] }\n  deploy: { needs: [test], steps: [{ run: "true" }] }\n`;
  const sha = await repo.commit({ '.forgeline/ci.yml': pipeline }, 'pipeline');
  await sendGitHubHook(hook.hookUrl, hook.secret, 'push', pushPayload({ name: 'acme/pages', cloneUrl: repo.cloneUrl }, sha));
  const pool = runtime.db.pool;
  let template: number | undefined;
  for (;;) {
    const { rows } = await pool.query(`SELECT id::int AS id, status FROM runs ORDER BY id LIMIT 1`);
    if (rows[0] && ['success', 'failure'].includes(rows[0].status)) { template = rows[0].id; break; }
    await new Promise((r) => setTimeout(r, 100));
  }
  const pages = () => ({
    'runs list (/)': '/',
    'run page': `/runs/${template}`,
    'pipeline page': `/repos/${hook.id}/pipelines/ci`,
    badge: '/badge/acme/pages/ci.svg',
    'GET /api/runs': '/api/runs?limit=50',
    'GET /api/runs, a deep page': `/api/runs?limit=50&cursor=${template! + 40}`,
  });
  const measure = async () => {
    const out: Record<string, number> = {};
    for (const [name, path] of Object.entries(pages())) {
      const times: number[] = [];
      for (let i = 0; i < REQUESTS; i++) {
        const t = performance.now();
        const res = await fetch(`${base}${path}`);
        await res.arrayBuffer();
        if (!res.ok) throw new Error(`${path}: ${res.status}`);
        times.push(performance.now() - t);
      }
      out[name] = median(times);
    }
    return out;
  };
  // Runs like the first, on 50 branches, a minute apart, each with its 4 finished stages.
  const seed = async (count: number) => {
  await pool.query(
    `INSERT INTO runs (repo_id, event_index, pipeline, file, event, sha, definition, status, created_at, updated_at)
     SELECT repo_id, 0, pipeline, file, jsonb_set(event, '{branch}', to_jsonb('branch-' || (g % 50))), sha, definition,
       (ARRAY['success', 'failure', 'canceled'])[1 + g % 3], now() - g * interval '1 minute', now() - g * interval '1 minute'
     FROM runs, generate_series(1, $2::int) g WHERE id = $1`, [template, count]);
    await pool.query(
      `INSERT INTO stages (run_id, name, position, needs, status, attempt, started_at, finished_at)
       SELECT r.id, s.name, s.position, s.needs, s.status, 1, r.created_at, r.created_at + interval '3 seconds'
       FROM runs r JOIN stages s ON s.run_id = $1 WHERE r.id <> $1 AND NOT EXISTS (SELECT 1 FROM stages o WHERE o.run_id = r.id)`, [template]);
    await pool.query('ANALYZE runs; ANALYZE stages');
  };
  // The baseline: a full first page (50 runs), so both measurements render as much.
  await seed(49);
  // Once to warm (compiled code paths, the database's caches), then measured.
  await measure();
  const small = await measure();
  await seed(RUNS - 50);
  const large = await measure();

  console.log(`pages benchmark: median of ${REQUESTS} requests, 50 runs against ${RUNS} runs (4 stages each), in one run`);
  for (const name of Object.keys(small)) {
    console.log(`${name.padEnd(28)} ${small[name]!.toFixed(1).padStart(7)} ms → ${large[name]!.toFixed(1).padStart(7)} ms   ratio ${(large[name]! / small[name]!).toFixed(2)}`);
  }
} finally {
  await bench.close();
}
