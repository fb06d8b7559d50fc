import { createPool, type Pool } from './db.ts';
import { startEmbeddedPostgres } from './embedded.ts';

export interface Database {
  url: string;
  pool: Pool;
  /** True when this process started the embedded PostgreSQL (and stops it on close). */
  embedded: boolean;
  close(): Promise<void>;
}

/** DATABASE_URL when given, else the embedded PostgreSQL of the data dir (started or joined). */
export async function connectDatabase(opts: { databaseUrl?: string; dataDir: string; poolSize?: number }): Promise<Database> {
  if (opts.databaseUrl) {
    const pool = createPool(opts.databaseUrl, opts.poolSize);
    return { url: opts.databaseUrl, pool, embedded: false, close: () => pool.end() };
  }
  const cluster = await startEmbeddedPostgres(opts.dataDir);
  const pool = createPool(cluster.url, opts.poolSize);
  return {
    url: cluster.url,
    pool,
    embedded: true,
    async close() {
      await pool.end();
      await cluster.stop();
    },
  };
}
