// The blob store (FORGELINE_BLOB_STORE): archives in PostgreSQL by default,
// in an S3-compatible service (here s3rver, a real HTTP server on disk)
// when set. Both stream: PostgreSQL keeps 1 MiB rows, S3 gets a multipart
// upload; a whole archive is never one value.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prune } from '../scheduler/index.ts';
import { createPool, migrate, openBlobStore, postgresBlobStore, s3BlobStore, type BlobStore, type Pool } from '../store/index.ts';
import { freshDatabase, type TestDatabase } from './helpers/database.ts';
import { startBench, type Bench } from './helpers/engine.ts';
import { startS3, type TestS3 } from './helpers/s3-server.ts';

let database: TestDatabase;
let pool: Pool;
let s3: TestS3;
let dir: string;

beforeAll(async () => {
  [database, s3, dir] = await Promise.all([freshDatabase(), startS3(), mkdtemp(path.join(tmpdir(), 'forgeline-blobs-'))]);
  pool = createPool(database.url, 4);
  await migrate(pool);
});

afterAll(async () => {
  await pool?.end();
  await Promise.all([database?.drop(), s3?.stop(), rm(dir, { recursive: true, force: true })]);
});

const stores: Array<[string, () => BlobStore]> = [
  ['postgres', () => postgresBlobStore(pool)],
  ['s3', () => s3BlobStore(new URL(`s3://${s3.bucket}/team/ci/`), s3.env)],
];

describe.each(stores)('the %s blob store', (name, open) => {
  it('keeps 12 MiB in pieces and gives back the same bytes; a missing or deleted blob is false', async () => {
    const store = open();
    const data = randomBytes(12 * 1024 * 1024 + 17);
    const file = path.join(dir, `${name}-in`);
    await writeFile(file, data);
    const seen = s3.requests.length;
    await store.put('artifacts/1/abc', file);
    if (name === 'postgres') {
      const { rows } = await pool.query<{ n: number; biggest: number }>("SELECT count(*)::int AS n, max(length(data)) AS biggest FROM blob_chunks WHERE key = 'artifacts/1/abc'");
      expect(rows[0]).toEqual({ n: 13, biggest: 1024 * 1024 });
    } else {
      // A multipart upload: no request carried the whole archive.
      const parts = s3.requests.slice(seen).filter((r) => r.startsWith('PUT /forgeline/team/ci/artifacts/1/abc?partNumber='));
      expect(parts).toHaveLength(3);
      expect(await s3.keys('team/')).toEqual(['team/ci/artifacts/1/abc']);
    }
    expect(await store.get('artifacts/1/abc', path.join(dir, `${name}-out`))).toBe(true);
    expect((await readFile(path.join(dir, `${name}-out`))).equals(data)).toBe(true);

    expect(await store.get('artifacts/1/none', path.join(dir, `${name}-missing`))).toBe(false);
    await store.delete(['artifacts/1/abc', 'artifacts/1/never-was']);
    expect(await store.get('artifacts/1/abc', path.join(dir, `${name}-gone`))).toBe(false);
    await store.close();
  });

  it('keeps an empty file as a blob', async () => {
    const store = open();
    await writeFile(path.join(dir, `${name}-empty`), '');
    await store.put('caches/x/empty', path.join(dir, `${name}-empty`));
    expect(await store.get('caches/x/empty', path.join(dir, `${name}-empty-out`))).toBe(true);
    expect(await readFile(path.join(dir, `${name}-empty-out`), 'utf8')).toBe('');
    await store.delete(['caches/x/empty']);
    await store.close();
  });
});

describe('FORGELINE_BLOB_STORE', () => {
  it('names the store, and says what to write when it names none', () => {
    expect(openBlobStore({ url: 'postgres', env: {} }, pool).name).toBe('postgres');
    expect(openBlobStore({ url: 's3://bucket/prefix', env: {} }, pool).name).toBe('s3');
    expect(() => openBlobStore({ url: 'gs://bucket', env: {} }, pool)).toThrow("FORGELINE_BLOB_STORE must be postgres or s3://bucket/prefix, not 'gs://bucket'");
    expect(() => openBlobStore({ url: 's3:///prefix', env: {} }, pool)).toThrow(/names no bucket/);
  });

  it('moves the archives an earlier version kept in their rows into the default store on upgrade', async () => {
    const old = await freshDatabase();
    const oldPool = createPool(old.url, 2);
    try {
      // The schema as it was before blobs: every migration up to 022.
      const folder = new URL('../store/migrations/', import.meta.url);
      const files = (await readdir(folder)).filter((f) => /^\d+_.+\.sql$/.test(f) && f < '023').sort();
      await oldPool.query('CREATE TABLE forgeline_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
      for (const f of files) {
        await oldPool.query(await readFile(new URL(f, folder), 'utf8'));
        await oldPool.query('INSERT INTO forgeline_migrations (name) VALUES ($1)', [f]);
      }
      const artifact = randomBytes(3000);
      const cache = randomBytes(2000);
      const client = await oldPool.connect();
      try {
        // Rows only: their runs and repositories do not matter here.
        await client.query('SET session_replication_role = replica');
        await client.query("INSERT INTO artifacts (run_id, stage, attempt, archive, files, bytes) VALUES (7, 'm (1, x)', 2, $1, '{a}', 1)", [artifact]);
        await client.query("INSERT INTO caches (repo_id, branch, key, archive, bytes, files) VALUES ('r1', 'main', 'npm-1', $1, 2000, 1)", [cache]);
      } finally {
        await client.query('SET session_replication_role = DEFAULT');
        client.release();
      }
      expect(await migrate(oldPool)).toContain('023_blob_store.sql');
      const store = postgresBlobStore(oldPool);
      const { rows: [a] } = await oldPool.query('SELECT blob FROM artifacts');
      const { rows: [c] } = await oldPool.query('SELECT blob FROM caches');
      expect(await store.get(a.blob, path.join(dir, 'upgraded-artifact'))).toBe(true);
      expect((await readFile(path.join(dir, 'upgraded-artifact'))).equals(artifact)).toBe(true);
      expect(await store.get(c.blob, path.join(dir, 'upgraded-cache'))).toBe(true);
      expect((await readFile(path.join(dir, 'upgraded-cache'))).equals(cache)).toBe(true);
      // A row that goes takes its chunks with it.
      await oldPool.query('DELETE FROM artifacts');
      expect((await oldPool.query('SELECT key FROM blob_chunks')).rows).toEqual([{ key: c.blob }]);
    } finally {
      await oldPool.end();
      await old.drop();
    }
  });
});

describe('a server whose blobs are in S3', () => {
  let b: Bench;
  beforeAll(async () => {
    b = await startBench('acme/blobs', { workers: 2, env: { FORGELINE_API_TOKEN: 'blobs-admin', FORGELINE_BLOB_STORE: `s3://${s3.bucket}/acme`, ...s3.env } });
  }, 60_000);
  afterAll(() => b?.stop());

  it('keeps artifacts and caches there, replaces a rerun\'s, and deletes them with their rows', async () => {
    const files = {
      '.forgeline/ci.yml': `on: { push: {} }
stages:
  build:
    cache: [{ key: deps, files: [lock.txt], paths: [deps] }]
    artifacts: ["dist/**"]
    steps:
      - run: if [ -f deps/x ]; then echo "deps from cache"; fi; mkdir -p dist deps && echo "built $FORGELINE_RUN_ID" > dist/app.txt && echo dep > deps/x
  test:
    needs: [build]
    steps: [{ run: cat dist/app.txt }]
`,
      'lock.txt': 'v1\n',
    };
    const { runs: [first] } = await b.push(files);
    const run = await b.finished(first!, 30_000);
    expect(run.stages.map((s: any) => s.status)).toEqual(['success', 'success']);
    expect(await b.log(first!, 'test')).toContain(`built ${first}`);
    const artifacts = await s3.keys('acme/artifacts/');
    expect(artifacts).toEqual([expect.stringMatching(new RegExp(`^acme/artifacts/${first}/[0-9a-f-]{36}$`))]);
    expect(await s3.keys('acme/caches/')).toHaveLength(1);
    // Nothing of them is in the database.
    expect((await b.forgeline.runtime.db.pool.query('SELECT count(*)::int AS n FROM blob_chunks')).rows[0].n).toBe(0);

    // A second push restores the cache from S3.
    const { runs: [second] } = await b.push({ 'readme.txt': 'again' });
    await b.finished(second!, 30_000);
    expect(await b.log(second!, 'build')).toContain('deps from cache');

    // A rerun of build replaces the first run's archive: the earlier one is deleted.
    expect((await b.api(`/runs/${first}/rerun`, { method: 'POST', token: 'blobs-admin' })).status).toBeLessThan(300);
    await b.stage(first!, 'build', 'success', 30_000);
    await b.finished(first!, 30_000);
    const rerun = await s3.keys(`acme/artifacts/${first}/`);
    expect(rerun).toHaveLength(1);
    expect(rerun).not.toEqual(artifacts);

    // Deleting caches through the API deletes their archives.
    const repoId = (await b.api('/repos')).body.items.find((r: any) => r.name === b.name).id;
    expect((await b.api(`/repos/${repoId}/caches`, { method: 'DELETE', token: 'blobs-admin' })).body).toEqual({ deleted: 1 });
    expect(await s3.keys('acme/caches/')).toEqual([]);

    // Pruning deletes the runs' archives.
    const went = await prune(b.forgeline.runtime.deps, new Date(Date.now() + 60_000));
    expect(went.artifacts).toBe(2);
    expect(await s3.keys('acme/')).toEqual([]);
  }, 90_000);
});
