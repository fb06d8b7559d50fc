// Retention: `forgeline prune` and serve's background pass delete what is
// past retention (deliveries; the logs and artifacts of finished runs, which
// keep their summary; caches unused since) and nothing newer.
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPruning } from '../scheduler/index.ts';
import { forgelineCli } from './helpers/cli.ts';
import { startBench, type Bench } from './helpers/engine.ts';
import { waitFor } from './helpers/forgeline.ts';

const PIPELINE = `on: { push: {} }
stages:
  build:
    cache: [{ key: deps, paths: [vendor] }]
    artifacts: [out.txt]
    steps: [{ run: "mkdir -p vendor && echo kept > vendor/v && echo built > out.txt && echo the build log" }]
`;

describe('retention', () => {
  let b: Bench;
  beforeAll(async () => {
    b = await startBench('acme/retention', { workers: 1 });
  }, 60_000);
  afterAll(() => b?.stop());

  const age = async (table: string, column: string, where: string, id: unknown, days: number) =>
    b.forgeline.runtime.db.pool.query(`UPDATE ${table} SET ${column} = now() - make_interval(days => $2) WHERE ${where} = $1`, [id, days]);

  it('prunes what is older than --older-than in small batches, after a dry run that only counts, and keeps the runs\' summaries', async () => {
    const old = await b.push({ '.forgeline/ci.yml': PIPELINE });
    expect((await b.finished(old.runs[0]!)).status).toBe('success');
    const recent = await b.push({ '.forgeline/ci.yml': PIPELINE, 'n.txt': '2' });
    expect((await b.finished(recent.runs[0]!)).status).toBe('success');
    // The first push, 40 days ago: its delivery, its run and the cache it saved.
    await age('deliveries', 'received_at', 'id', old.delivery.id, 40);
    await age('runs', 'created_at', 'id', old.runs[0], 40);
    await age('caches', 'last_used_at', 'run_id', old.runs[0], 40);

    const env = b.forgeline.env;
    const dry = await forgelineCli(['prune', '--older-than', '30d', '--dry-run', '--json'], env);
    expect(dry.exitCode, dry.stderr).toBe(0);
    const counted = JSON.parse(dry.stdout);
    expect(counted).toMatchObject({ dryRun: true, deliveries: 1, runs: 1, artifacts: 1, caches: 1 });
    expect(counted.logChunks).toBeGreaterThan(0);
    expect(await b.log(old.runs[0]!, 'build')).toContain('the build log');

    const done = await forgelineCli(['prune', '--older-than', '30d', '--json'], env);
    expect(JSON.parse(done.stdout)).toMatchObject({ ...counted, before: expect.any(String), dryRun: false });
    expect((await b.api(`/deliveries/${old.delivery.id}`)).status).toBe(404);
    // The run keeps its summary; its log says where it went.
    const run = await b.run(old.runs[0]!);
    expect(run.stages.map((s: any) => [s.name, s.status, s.steps?.length])).toEqual([['build', 'success', 1]]);
    expect(await b.log(old.runs[0]!, 'build')).toMatch(/^forgeline: this log was deleted on \d{4}-\d\d-\d\d, past the server's retention/);
    // Nothing newer went.
    expect((await b.api(`/deliveries/${recent.delivery.id}`)).status).toBe(200);
    expect(await b.log(recent.runs[0]!, 'build')).toContain('the build log');
    const again = await forgelineCli(['prune', '--older-than', '30d'], env);
    expect(again.stdout).toMatch(/^deleted, from before \S+: 0 deliveries; the logs \(0 chunks\) and artifacts \(0\) of 0 runs, which keep their summary; 0 caches unused since$/);
    expect((await forgelineCli(['prune', '--older-than', 'soon'], env)).stderr).toContain('write an age like 30d, 12h or 90m');
  }, 60_000);

  it('prunes in the background as serve does, per FORGELINE_RETENTION_DAYS', async () => {
    const { runs: [id], delivery } = await b.push({ '.forgeline/ci.yml': PIPELINE, 'n.txt': '3' });
    await b.finished(id!);
    await age('deliveries', 'received_at', 'id', delivery.id, 100);
    await age('runs', 'created_at', 'id', id, 100);
    const stop = startPruning({ ...b.forgeline.runtime.deps, log: pino({ level: 'silent' }) }, 90, 1);
    try {
      await waitFor(async () => ((await b.api(`/deliveries/${delivery.id}`)).status === 404 ? true : undefined), 'the background pass', 10_000);
      await waitFor(async () => ((await b.log(id!, 'build')).includes('was deleted on') ? true : undefined), 'the run\'s log pruned', 10_000);
    } finally {
      stop();
    }
  }, 30_000);
});
