import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import pino, { type Logger } from 'pino';
import type { PgBoss } from 'pg-boss';
import { processRunner } from '../runners/index.ts';
import { deliveryBatcher, hookDirectory, startBoss, startWorkers, unverifiedLimiter, type IngestDeps, type SchedulerDeps, type WorkerOptions, type Workers } from '../scheduler/index.ts';
import { connectDatabase, loadSecretKey, migrate, secretBox, type Database } from '../store/index.ts';
import type { Config } from './config.ts';

/** A process's connection to Forgeline's database and queues, ready for the server or workers. */
export interface Runtime {
  config: Config;
  db: Database;
  deps: SchedulerDeps;
  ingest: IngestDeps;
  workers?: Workers;
  close(): Promise<void>;
}

export function createLogger(level: string): Logger {
  return pino({ level, base: { pid: process.pid } });
}

export async function openRuntime(config: Config, log: Logger = createLogger(config.logLevel)): Promise<Runtime> {
  const db = await connectDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  let boss: PgBoss | undefined;
  try {
    await migrate(db.pool);
    boss = await startBoss(db.url, (err) => log.error({ err: err.message }, 'queue error'));
  } catch (err) {
    await db.close();
    throw err;
  }
  const deps: SchedulerDeps = {
    pool: db.pool,
    boss,
    box: secretBox(await loadSecretKey(config.dataDir, config.secretKey)),
    log,
    runner: processRunner,
    dataDir: config.dataDir,
    publicUrl: config.publicUrl,
    workerName: `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
  };
  const ingest: IngestDeps = {
    pool: db.pool,
    directory: hookDirectory(db.pool, deps.box),
    batcher: deliveryBatcher(db.pool, boss),
    limiter: unverifiedLimiter({ perMinute: config.unverifiedPerMinute, burst: Math.max(1, Math.ceil(config.unverifiedPerMinute / 2)) }),
    forgeSecrets: config.forgeSecrets,
    log,
  };
  return {
    config, db, deps, ingest,
    async close() {
      await boss!.stop({ graceful: true, timeout: 10_000 });
      await db.close();
    },
  };
}

export async function openRuntimeWithWorkers(config: Config, options: WorkerOptions, log?: Logger): Promise<Runtime> {
  const runtime = await openRuntime(config, log);
  const workers = await startWorkers(runtime.deps, { heartbeatSeconds: config.heartbeatSeconds, shutdownSeconds: config.shutdownSeconds, ...options });
  const close = runtime.close;
  return {
    ...runtime,
    workers,
    async close() {
      await workers.stop();
      await close();
    },
  };
}
