import { readdir, readFile } from 'node:fs/promises';
import type { Pool } from './db.ts';
import { writeStageTransitions } from './stage-transitions.ts';

const migrationsDir = new URL('./migrations/', import.meta.url);
// Any constant will do; it only has to be the same in every Forgeline process.
const MIGRATION_LOCK = 0x466c6e4d;

/**
 * Applies the numbered SQL files of store/migrations that have not run yet.
 * An advisory lock serializes processes that start at the same moment.
 */
export async function migrate(pool: Pool): Promise<string[]> {
  const files = (await readdir(migrationsDir)).filter((f) => /^\d+_.+\.sql$/.test(f)).sort();
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS forgeline_migrations (
      name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set((await client.query<{ name: string }>('SELECT name FROM forgeline_migrations')).rows.map((r) => r.name));
    for (const file of files) {
      if (done.has(file)) continue;
      const sql = await readFile(new URL(file, migrationsDir), 'utf8');
      await client.query('BEGIN');
      try {
        await client.query(sql);
        await client.query('INSERT INTO forgeline_migrations (name) VALUES ($1)', [file]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${file} failed: ${(err as Error).message}`);
      }
      applied.push(file);
    }
    // The table the stage trigger checks against: this version's, whatever an older one wrote.
    await writeStageTransitions(client);
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
    client.release();
  }
  return applied;
}

