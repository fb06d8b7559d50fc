import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { readConfig, type Config } from '../cli/config.ts';
import { openRuntimeWithWorkers, type Runtime } from '../cli/runtime.ts';
import { registerRepo } from '../ingest/index.ts';
import { listen } from '../server/index.ts';
import { benchDatabase } from './database.ts';
import { acceptingForge } from './forge.ts';

export interface BenchServer {
  runtime: Runtime;
  config: Config;
  dataDir: string;
  /** http://127.0.0.1:PORT, reads public. */
  base: string;
  /** Registers a repository whose statuses go to a forge that accepts them all. */
  register(name: string, cloneUrl: string): Promise<{ id: string; hookUrl: string; secret: string }>;
  close(): Promise<void>;
}

/** A whole Forgeline (HTTP server and `concurrency` workers) on a scratch database (or `databaseUrl`'s, kept) and data dir, for a benchmark. */
export async function startBenchServer(env: Record<string, string> = {}, concurrency = 2, databaseUrl?: string): Promise<BenchServer> {
  const db = databaseUrl ? { url: databaseUrl, close: async () => {} } : await benchDatabase();
  const forge = await acceptingForge();
  const dataDir = await mkdtemp(path.join(tmpdir(), 'forgeline-bench-'));
  const config = readConfig({ DATABASE_URL: db.url, FORGELINE_DATA_DIR: dataDir, FORGELINE_ALLOW_LOCAL: 'true', FORGELINE_SECRET_KEY: 'bench', ...env }, { port: 0 });
  const runtime = await openRuntimeWithWorkers(config, { concurrency, backstopPollSeconds: 30 }, pino({ level: 'silent' }));
  const server = await listen(runtime.deps, runtime.ingest, { auth: { apiToken: undefined, publicRead: true }, bodyLimitBytes: config.bodyLimitBytes, urls: config.urls }, 0, '127.0.0.1');
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    runtime, config, dataDir, base,
    register: (name, cloneUrl) => registerRepo({ pool: runtime.db.pool, box: runtime.deps.box, publicUrl: base, urls: config.urls }, { forge: 'github', name, cloneUrl, apiUrl: forge.apiUrl }, 'bench'),
    async close() {
      server.close();
      await runtime.close();
      await forge.close();
      await db.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
