import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres } from '../store/embedded.ts';
import { scratchDatabase } from '../test/helpers/scratch-database.ts';

/** A scratch database for a benchmark: on DATABASE_URL's server, or an embedded PostgreSQL. */
export async function benchDatabase(): Promise<{ url: string; close(): Promise<void> }> {
  if (process.env.DATABASE_URL) {
    const db = await scratchDatabase(process.env.DATABASE_URL);
    return { url: db.url, close: db.drop };
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'forgeline-bench-pg-'));
  await chmod(dir, 0o755);
  const cluster = await startEmbeddedPostgres(dir);
  const db = await scratchDatabase(cluster.url);
  return {
    url: db.url,
    async close() {
      await db.drop();
      await cluster.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
