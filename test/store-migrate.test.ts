import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPool, migrate, type Pool } from '../store/index.ts';
import { freshDatabase, type TestDatabase } from './helpers/database.ts';

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
