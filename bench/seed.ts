import type pg from 'pg';

export interface SeedSizes {
  deliveries: number;
  runs: number;
  /** Each run gets the template run's stages (bench/scale.ts: 5), each with one log chunk. */
  repos: number;
}

/**
 * Fills a database to production size in SQL (generate_series), from one
 * real delivery and its run made through the hook: `deliveries` copies of
 * the delivery (its real headers and body) over `repos` repositories,
 * received over the past year; `runs` finished runs of its pipeline with
 * the run's stages and a log chunk each. Seeded runs are already reported,
 * so no status report is owed for them. Answers the time each part took.
 */
export async function seedProduction(db: pg.Pool, sizes: SeedSizes, template: { deliveryId: string; runId: number; repoId: string }, say: (line: string) => void): Promise<Record<string, number>> {
  const took: Record<string, number> = {};
  const timed = async (name: string, sql: string, values: unknown[]) => {
    const t = performance.now();
    await db.query(sql, values);
    took[name] = Number(((performance.now() - t) / 1000).toFixed(1));
    say(`  seeded ${name} in ${took[name]} s`);
  };
  const { deliveries: D, runs: R, repos: P } = sizes;
  await timed('repos', `
    INSERT INTO repos (id, forge, name, clone_url, api_url, hook_id, fork_prs, default_branch, created_at)
    SELECT 'seed-repo-' || g, forge, 'seed/repo-' || g, clone_url, api_url, 'seed-hook-' || g, fork_prs, default_branch, now() - interval '1 year'
    FROM repos, generate_series(1, $2::int) g WHERE id = $1`, [template.repoId, P]);
  // In batches: one statement of a million rows holds a long transaction and much memory.
  const step = 100_000;
  const t = performance.now();
  for (let from = 1; from <= D; from += step) {
    await db.query(`
      INSERT INTO deliveries (id, hook, forge, repo_id, forge_delivery_id, event_header, received_at, source_address, headers, body, body_sha256, status, reason, events, explain)
      SELECT 'seed-' || g, 'seed-hook-' || (g % $3 + 1), d.forge, 'seed-repo-' || (g % $3 + 1), 'seed-' || g, d.event_header,
             now() - interval '1 hour' - make_interval(secs => ($2::int - g) * 31536000.0 / $2::int), d.source_address, d.headers, d.body, md5('seed' || g), d.status, d.reason, d.events, d.explain
      FROM deliveries d, generate_series($4::int, least($4::int + ${step - 1}, $2::int)) g WHERE d.id = $1`, [template.deliveryId, D, P, from]);
  }
  took.deliveries = Number(((performance.now() - t) / 1000).toFixed(1));
  say(`  seeded ${D} deliveries in ${took.deliveries} s`);
  await timed('runs', `
    INSERT INTO runs (repo_id, delivery_id, event_index, pipeline, file, event, sha, definition, status, attempt, created_at, updated_at, problems, report_due)
    SELECT 'seed-repo-' || (g % $3 + 1), 'seed-' || greatest(1, (g::bigint * $4 / $2)::int), 0, r.pipeline, r.file, r.event, md5('sha' || g) || left(md5('x' || g), 8), r.definition, r.status, 1,
           now() - interval '1 hour' - make_interval(secs => ($2::int - g) * 31536000.0 / $2::int), now() - interval '1 hour' - make_interval(secs => ($2::int - g) * 31536000.0 / $2::int), '[]', NULL
    FROM runs r, generate_series(1, $2::int) g WHERE r.id = $1`, [template.runId, R, P, D]);
  await timed('stages', `
    INSERT INTO stages (run_id, name, position, needs, status, reason, attempt, worker, started_at, finished_at, queued_at, first_attempt)
    SELECT r.id, s.name, s.position, s.needs, s.status, s.reason, 1, 'seed', r.created_at, r.created_at + (s.finished_at - s.queued_at), r.created_at, 1
    FROM runs r CROSS JOIN (SELECT * FROM stages WHERE run_id = $1) s WHERE r.repo_id LIKE 'seed-repo-%'`, [template.runId]);
  await timed('logs', `
    INSERT INTO stage_logs (run_id, stage, attempt, chunk)
    SELECT s.run_id, s.name, 1, l.chunk
    FROM stages s JOIN LATERAL (SELECT string_agg(chunk, '' ORDER BY id) AS chunk FROM stage_logs WHERE run_id = $1 AND stage = s.name) l ON true
    WHERE s.worker = 'seed' AND l.chunk IS NOT NULL`, [template.runId]);
  await timed('analyze', 'ANALYZE', []);
  return took;
}
