import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPool, isDatabaseUnavailable, migrate, waitingOutOutages, type Pool } from '../store/index.ts';
import { freshDatabase, type TestDatabase } from './helpers/database.ts';
import { startDatabaseProxy } from './helpers/tcp-proxy.ts';

let database: TestDatabase;
let pools: Pool[];

beforeAll(async () => {
  database = await freshDatabase();
  pools = [createPool(database.url, 2), createPool(database.url, 2), createPool(database.url, 2)];
});

afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
  await database.drop();
});

it('applies each migration once when several processes start at the same moment', async () => {
  const results = await Promise.all(pools.map((p) => migrate(p)));
  const applied = results.flat();
  expect(applied).toContain('001_init.sql');
  expect(new Set(applied).size).toBe(applied.length);
  const { rows } = await pools[0]!.query('SELECT name FROM forgeline_migrations ORDER BY name');
  expect(rows.map((r) => r.name)).toEqual([...new Set(applied)].sort());
  expect(await migrate(pools[0]!)).toEqual([]);
});

it('keeps the process up when the database ends a connection checked out between two queries', async () => {
  const [pool, admin] = [pools[1]!, pools[2]!];
  const client = await pool.connect();
  const { rows: [{ pid }] } = await client.query('SELECT pg_backend_pid() AS pid');
  // What a database restart does to every open connection (57P01 and friends).
  await admin.query('SELECT pg_terminate_backend($1)', [pid]);
  await new Promise((resolve) => setTimeout(resolve, 300));
  // The error reaches the next query on that client, not the process (an unhandled 'error' event fails this file).
  await expect(client.query('SELECT 1')).rejects.toThrow();
  client.release();
  expect((await pool.query('SELECT 1 AS one')).rows[0].one).toBe(1);
});

it('waits a database outage out, and throws at once what is not one', async () => {
  const proxy = await startDatabaseProxy(database.url);
  const pool = createPool(proxy.url, 2);
  try {
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await proxy.cut();
    const answered = waitingOutOutages(() => pool.query('SELECT 2 AS two'));
    // Past its deadline, the outage is the caller's error after all.
    await expect(waitingOutOutages(() => pool.query('SELECT 3'), 300)).rejects.toSatisfy(isDatabaseUnavailable);
    await new Promise((r) => setTimeout(r, 1000));
    await proxy.restore();
    expect((await answered).rows).toEqual([{ two: 2 }]);
    const started = Date.now();
    await expect(waitingOutOutages(() => pool.query('SELECT * FROM no_such_table'))).rejects.toThrow(/no_such_table/);
    expect(Date.now() - started).toBeLessThan(1000);
  } finally {
    await pool.end();
    await proxy.close();
  }
});
