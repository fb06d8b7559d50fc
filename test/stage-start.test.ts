import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCommit } from '../git/index.ts';
import { blankEvent } from '../providers/event.ts';
import { commitPrefetch } from '../ingest/index.ts';
import { registry } from '../scheduler/metrics.ts';
import { mirrorPath } from '../scheduler/mirrors.ts';
import { preparedCheckouts } from '../scheduler/prepared-checkouts.ts';
import { repos } from '../store/index.ts';
import { startBench, type Bench } from './helpers/engine.ts';
import { createTestRepo, type TestRepo } from './helpers/git-repo.ts';

async function preparedCount(outcome: string): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === 'forgeline_prepared_checkouts_total');
  return (metric?.values as Array<{ labels: { outcome?: string }; value: number }> | undefined)?.find((v) => v.labels.outcome === outcome)?.value ?? 0;
}

const leftovers = async (root: string) => (await readdir(root).catch(() => [])).filter((f) => f.startsWith('.prepared-'));

describe('checkouts prepared while a run is planned', () => {
  let scratch: string;
  let repo: TestRepo;
  let mirror: string;
  let first: string;
  let second: string;

  beforeAll(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'forgeline-prepared-'));
    repo = await createTestRepo();
    mirror = path.join(scratch, 'mirror.git');
    first = await repo.commit({ 'a.txt': 'first' });
    second = await repo.commit({ 'a.txt': 'second' });
    await ensureCommit(mirror, { cloneUrl: repo.cloneUrl }, first);
    await ensureCommit(mirror, { cloneUrl: repo.cloneUrl }, second);
  });
  afterAll(() => rm(scratch, { recursive: true, force: true }));

  it('hands a stage the checkout of its commit, moved into its workspace, and only to a stage of that commit', async () => {
    const root = path.join(scratch, 'take');
    const prepared = preparedCheckouts(root, []);
    const taken = await preparedCount('taken');
    prepared.prepare({ mirror, sha: first, independent: false });
    const dest = path.join(root, '1-build-1', 'src');
    expect(await prepared.take({ mirror, sha: second, independent: false }, dest)).toBe(false);
    expect(await prepared.take({ mirror, sha: first, independent: true }, dest)).toBe(false);
    expect(await prepared.take({ mirror, sha: first, independent: false }, dest)).toBe(true);
    expect(await readFile(path.join(dest, 'a.txt'), 'utf8')).toBe('first');
    expect((await execa('git', ['rev-parse', 'HEAD'], { cwd: dest })).stdout).toBe(first);
    expect((await execa('git', ['status', '--porcelain'], { cwd: dest })).stdout).toBe('');
    expect(await leftovers(root)).toEqual([]);
    // Taken once: the next stage of that commit makes its own.
    expect(await prepared.take({ mirror, sha: first, independent: false }, path.join(root, 'other'))).toBe(false);
    expect(await preparedCount('taken')).toBe(taken + 1);
  });

  it('removes a checkout nobody takes in time, and one that could not be made', async () => {
    const root = path.join(scratch, 'expire');
    const prepared = preparedCheckouts(root, [], { ttlMs: 100 });
    const expired = await preparedCount('expired');
    prepared.prepare({ mirror, sha: first, independent: false });
    prepared.prepare({ mirror, sha: 'f'.repeat(40), independent: false });
    await new Promise((r) => setTimeout(r, 50));
    expect(await prepared.take({ mirror, sha: 'f'.repeat(40), independent: false }, path.join(root, 'x'))).toBe(false);
    expect(existsSync(path.join(root, 'x'))).toBe(false);
    for (let i = 0; i < 100 && (await leftovers(root)).length; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await leftovers(root)).toEqual([]);
    expect(await preparedCount('expired')).toBe(expired + 1);
    expect(await prepared.take({ mirror, sha: first, independent: false }, path.join(root, 'y'))).toBe(false);
  });

  it('keeps at most `max` waiting, and close removes them', async () => {
    const root = path.join(scratch, 'max');
    const prepared = preparedCheckouts(root, [], { max: 2 });
    for (let i = 0; i < 3; i++) prepared.prepare({ mirror, sha: first, independent: false });
    await prepared.close();
    expect(await leftovers(root)).toEqual([]);
    expect(await prepared.take({ mirror, sha: first, independent: false }, path.join(root, 'z'))).toBe(false);
    const closedBefore = await preparedCount('closed');
    const again = preparedCheckouts(root, [], { max: 2 });
    for (let i = 0; i < 3; i++) again.prepare({ mirror, sha: first, independent: false });
    await again.close();
    expect(await preparedCount('closed')).toBe(closedBefore + 2);
  });

  it('removes, when it starts, the checkouts a dead process left behind, and leaves a live one\'s', async () => {
    const root = path.join(scratch, 'leftovers');
    const dead = execa('true');
    await dead;
    for (const name of [`.prepared-${dead.pid}-0a`, `.prepared-${process.pid}-0b`]) await mkdir(path.join(root, name, 'src'), { recursive: true });
    preparedCheckouts(root, []);
    for (let i = 0; i < 100 && (await leftovers(root)).length > 1; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await leftovers(root)).toEqual([`.prepared-${process.pid}-0b`]);
  });

  it('serves only stages whose runs-on labels the worker has', () => {
    const prepared = preparedCheckouts(scratch, ['linux', 'gpu']);
    expect(prepared.serves([])).toBe(true);
    expect(prepared.serves(['gpu'])).toBe(true);
    expect(prepared.serves(['gpu', 'arm64'])).toBe(false);
  });
});

describe('a worker process with the first stage of a push', () => {
  let bench: Bench;
  beforeAll(async () => { bench = await startBench('acme/prepared', { workers: 1, env: { FORGELINE_HEARTBEAT_SECONDS: '1' } }); });
  afterAll(() => bench.stop());

  it('claims the stage in the planning transaction and runs it without a job in the queue, while its slot is free', async () => {
    const pool = bench.forgeline.runtime.db.pool;
    const stageJobs = async (runId: number) => (await pool.query(
      `SELECT count(*)::int AS n FROM pgboss.job WHERE name LIKE 'stage%' AND (data->>'runId')::bigint = $1`, [runId])).rows[0].n;
    const file = 'on: { push: {} }\nstages:\n  one:\n    steps: [{ run: "sleep 1" }]\n  two:\n    steps: [{ run: "true" }]\n';
    const { runs: [id] } = await bench.push({ '.forgeline/ci.yml': file });
    const run = await bench.finished(id!);
    expect(run.status).toBe('success');
    // One worker slot: one stage started here at once, the other through the queue.
    expect(await stageJobs(id!)).toBe(1);
    const { rows } = await pool.query('SELECT DISTINCT worker FROM stages WHERE run_id = $1', [id]);
    expect(rows).toEqual([{ worker: bench.forgeline.runtime.deps.workerName }]);
  });

  it('queues again, at the same attempt, a stage running on this worker in the database but not here (a start that never came)', async () => {
    const pool = bench.forgeline.runtime.db.pool;
    const ran = path.join(await mkdtemp(path.join(tmpdir(), 'forgeline-ran-')), 'ran');
    const { runs: [id] } = await bench.push({ '.forgeline/ci.yml': `on: { push: {} }\nstages:\n  only:\n    steps: [{ run: "echo attempt $FORGELINE_ATTEMPT >> ${ran}" }]\n` });
    await bench.finished(id!);
    // As if claimed for this worker a while ago, and never started (through queued: the state machine allows no other way).
    await pool.query(`UPDATE stages SET status = 'queued' WHERE run_id = $1`, [id]);
    await pool.query(`UPDATE stages SET status = 'running', finished_at = NULL, started_at = now() - interval '1 minute', worker = $2 WHERE run_id = $1`,
      [id, bench.forgeline.runtime.deps.workerName]);
    await pool.query(`UPDATE runs SET status = 'running' WHERE id = $1`, [id]);
    await bench.stage(id!, 'only', 'success', 20_000);
    expect((await bench.run(id!)).stages[0]).toMatchObject({ status: 'success', attempt: 1 });
    expect((await readFile(ran, 'utf8')).trim().split('\n')).toEqual(['attempt 1', 'attempt 1']);
  });

  it('runs the stage in the checkout planning made for it', async () => {
    const taken = await preparedCount('taken');
    const { runs } = await bench.push({ '.forgeline/ci.yml': 'on: { push: {} }\nstages:\n  build:\n    steps: [{ run: "cat marker.txt" }]\n', 'marker.txt': 'from the prepared checkout' });
    const run = await bench.finished(runs[0]!);
    expect(run.status).toBe('success');
    expect(await bench.log(runs[0]!, 'build')).toContain('from the prepared checkout');
    expect(await preparedCount('taken')).toBe(taken + 1);
  });

  it('fetches a delivery\'s commits ahead of planning, at most `max` at once', async () => {
    const repo = (await repos.listRepos(bench.forgeline.runtime.db.pool)).find((r) => r.name === 'acme/prepared')!;
    const mirror = mirrorPath(bench.forgeline.runtime.deps, repo.id);
    const shas = [await bench.repo.commit({ 'p.txt': '1' }), await bench.repo.commit({ 'p.txt': '2' }), await bench.repo.commit({ 'p.txt': '3' })];
    const events = shas.map((sha) => ({ ...blankEvent('github', 'push', repo.name, repo.cloneUrl), ref: 'refs/heads/main', branch: 'main', sha }));
    commitPrefetch(bench.forgeline.runtime.deps, 2)(repo, events);
    const has = (sha: string) => execa('git', ['cat-file', '-e', `${sha}^{commit}`], { cwd: mirror }).then(() => true, () => false);
    for (let i = 0; i < 200 && !(await has(shas[0]!) && await has(shas[1]!)); i++) await new Promise((r) => setTimeout(r, 25));
    expect([await has(shas[0]!), await has(shas[1]!), await has(shas[2]!)]).toEqual([true, true, false]);
  });
});
