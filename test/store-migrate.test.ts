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
