// Matrix stages and caches on the local back end, through a real server:
// max-parallel, fail-fast, stages.<matrix>.result, and caches that a fork's
// pull request restores from its base but never saves.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caches } from '../store/index.ts';
import { startBench, type Bench } from './helpers/engine.ts';

describe('matrix stages and caches', () => {
  let b: Bench;
  beforeAll(async () => {
    b = await startBench('acme/matrix', { workers: 3, env: { FORGELINE_API_TOKEN: 'matrix-admin' } });
  }, 60_000);
  afterAll(() => b?.stop());

  it('runs at most max-parallel instances at once, the others waiting for a slot, saying so', async () => {
    const { runs: [id] } = await b.push({
      '.forgeline/ci.yml': `on: { push: {} }
stages:
  m:
    matrix: { n: [1, 2, 3] }
    max-parallel: 1
    steps: [{ run: "sleep 1; echo instance $FORGELINE_MATRIX_N" }]
`,
    });
    const waiting = await b.stage(id!, 'm (3)', 'waiting', 15_000);
    expect(waiting.reason).toBe('waiting for a slot: m runs at most 1 instance(s) at once (max-parallel)');
    const run = await b.finished(id!, 30_000);
    const spans: Array<[string, string, number, number]> = run.stages.map((s: any) => [s.name, s.status, Date.parse(s.startedAt), Date.parse(s.finishedAt)]);
    expect(spans.map(([name, status]) => [name, status])).toEqual([['m (1)', 'success'], ['m (2)', 'success'], ['m (3)', 'success']]);
    // One after the other: each started once the one before it finished.
    for (let i = 1; i < spans.length; i++) expect(spans[i]![2]).toBeGreaterThanOrEqual(spans[i - 1]![3]);
    expect(await b.log(id!, 'm (2)')).toContain('instance 2');
  }, 60_000);

  it('cancels the other instances when one fails (fail-fast), and stages.<matrix>.result reads all of them', async () => {
    const { runs: [id] } = await b.push({
      '.forgeline/ci.yml': `on: { push: {} }
stages:
  m:
    matrix: { n: [1, 2, 3] }
    steps: [{ run: "if [ $FORGELINE_MATRIX_N = 1 ]; then exit 4; fi; sleep 60" }]
  lenient:
    matrix: { n: [1, 2] }
    fail-fast: false
    steps: [{ run: "if [ $FORGELINE_MATRIX_N = 1 ]; then exit 4; fi; echo second went on" }]
  report:
    needs: [m]
    if: stages.m.result == "failure"
    steps: [{ run: "echo the matrix failed" }]
  deploy:
    needs: [m]
    steps: [{ run: "echo never" }]
`,
    });
    const run = await b.finished(id!, 40_000);
    const byName = Object.fromEntries(run.stages.map((s: any) => [s.name, [s.status, s.reason]]));
    expect(byName).toEqual({
      'm (1)': ['failure', 'step 1: exited with 4'],
      'm (2)': ['canceled', 'canceled: m (1) failed (fail-fast)'],
      'm (3)': ['canceled', 'canceled: m (1) failed (fail-fast)'],
      'lenient (1)': ['failure', 'step 1: exited with 4'],
      'lenient (2)': ['success', null],
      report: ['success', null],
      deploy: ['skipped', "needs 'm (1)', which ended failure"],
    });
  }, 60_000);

  it('restores a fork\'s pull request\'s cache from its base branch and never saves one for it', async () => {
    const pipeline = `on: { push: {}, pull_request: {} }
stages:
  deps:
    cache: [{ key: deps, files: [lock.txt], paths: [vendor] }]
    steps: [{ run: "if [ -f vendor/made ]; then echo restored $(cat vendor/made); else mkdir -p vendor && echo $FORGELINE_SHA > vendor/made && echo fresh; fi; echo $RANDOM > vendor/other" }]
`;
    const repoId = (await b.api('/repos')).body.items.find((r: any) => r.name === b.name).id;
    const main = await b.push({ '.forgeline/ci.yml': pipeline, 'lock.txt': 'one\n' });
    await b.finished(main.runs[0]!);
    expect(await b.log(main.runs[0]!, 'deps')).toContain('fresh');
    const saved = (await b.api(`/repos/${repoId}/caches`)).body;
    expect(saved.items.map((c: any) => [c.branch, c.key.replace(/[0-9a-f]{32}$/, 'HASH'), c.files])).toEqual([['main', 'deps-HASH', 2]]);
    expect(saved.totalBytes).toBe(saved.items[0].bytes);

    // The lock file changed on the fork's branch: no exact hit, the newest deps-* of the base is restored.
    const sha = await b.repo.commit({ '.forgeline/ci.yml': pipeline, 'lock.txt': 'two\n' }, 'fork change', 'fork-branch');
    const { runs: [pr] } = await b.pullRequest(sha, { fork: true, head: 'fork-branch' });
    // A fork's run waits for approval (no worker here gives forks a user of their own).
    await b.stage(pr!, 'deps', 'waiting');
    expect((await b.api(`/runs/${pr}/stages/deps/approve`, { method: 'POST', token: 'matrix-admin' })).status).toBe(200);
    await b.finished(pr!);
    const log = await b.log(pr!, 'deps');
    expect(log).toContain(`restored ${main.sha}`);
    expect(log).toMatch(new RegExp(`cache deps-[0-9a-f]{32}: restored 2 file\\(s\\) from ${saved.items[0].key}`));
    expect((await b.api(`/repos/${repoId}/caches`)).body.items).toHaveLength(1);

    // Deleting needs a token that may write, and says how many went.
    expect((await b.api(`/repos/${repoId}/caches?key=${saved.items[0].key}`, { method: 'DELETE' })).status).toBe(401);
    expect((await b.api(`/repos/${repoId}/caches?key=${saved.items[0].key}`, { method: 'DELETE', token: 'matrix-admin' })).body).toEqual({ deleted: 1 });
    expect((await b.api(`/repos/${repoId}/caches`)).body.items).toEqual([]);
  }, 60_000);

  it('keeps a repository\'s caches under its cap, the least recently used going first, and lets the first of two saves of a key win', async () => {
    const pool = b.forgeline.runtime.db.pool;
    const repoId = (await b.api('/repos')).body.items.find((r: any) => r.name === b.name).id;
    const save = (key: string, blob: string) => caches.saveCache(pool, { repoId, branch: 'lru', key, blob, bytes: 1000, files: 1, runId: 1 }, 2500);
    expect(await save('a-1', 'blob-a')).toEqual({ saved: true, unused: [] });
    expect(await save('b-1', 'blob-b')).toEqual({ saved: true, unused: [] });
    // The second save of a key loses, and its own archive is not needed.
    expect(await save('b-1', 'blob-b2')).toEqual({ saved: false, unused: ['blob-b2'] });
    // Restoring a marks it used: b is now the least recently used, and the third save pushes it out, archive and all.
    expect((await caches.findCache(pool, repoId, ['lru'], 'a-1', 'a-'))?.blob).toBe('blob-a');
    expect(await save('c-1', 'blob-c')).toEqual({ saved: true, unused: ['blob-b'] });
    const left = (await caches.listCaches(pool, repoId)).filter((c) => c.branch === 'lru').map((c) => c.key);
    expect(left.sort()).toEqual(['a-1', 'c-1']);
    expect((await caches.findCache(pool, repoId, ['lru'], 'b-2', 'b-'))).toBeNull();
  });
});
