import { randomBytes } from 'node:crypto';
import { chmod, mkdir } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { PgBoss } from 'pg-boss';
import { backendFor, resolveUser, type RunAsUser } from '../runners/index.ts';
import { PlanningPool } from '../pipelines/index.ts';
import { CONTAINER_LABEL, FORK_LABEL, MAX_LABELS, startBoss, startWorkers, type SchedulerDeps, type WorkerOptions, type Workers } from '../scheduler/index.ts';
import { auditLimiter, commitPrefetch, deliveryBatcher, hookDirectory, unverifiedLimiter, type IngestDeps } from '../ingest/index.ts';
import { connectDatabase, createIngestPool, createSession, loadSecretKey, migrate, openBlobStore, secretBox, secrets, type Database } from '../store/index.ts';
import type { Config } from './config.ts';

/** A process's connection to Forgeline's database and queues, ready for the server or workers. */
export interface Runtime {
  config: Config;
  db: Database;
  deps: SchedulerDeps;
  ingest: IngestDeps;
  workers?: Workers;
  /** Stops workers (running stages get `graceSeconds`, else FORGELINE_SHUTDOWN_SECONDS), then the queues and the database. */
  close(graceSeconds?: number): Promise<void>;
}

/** JSON lines for a log collector; readable lines (pino-pretty, in-process) for a person at a terminal. */
export function createLogger(level: string, format: 'pretty' | 'json' = 'json'): Logger {
  if (format === 'json') return pino({ level, base: { pid: process.pid } });
  return pino({ level, base: null }, pretty({ sync: true, colorize: Boolean(process.stdout.isTTY), translateTime: 'SYS:HH:MM:ss.l', singleLine: true }));
}

/**
 * `--db-connections`: the most connections a process opens to PostgreSQL,
 * everything included: one for LISTEN (pg-boss's wake-ups and cancels),
 * two for the hook path's group commit where the process takes hooks, and
 * the pool that pg-boss and Forgeline share for the rest.
 */
export const DB_CONNECTIONS = { serve: 13, worker: 4 };
const LISTEN_CONNECTIONS = 1;
const INGEST_CONNECTIONS = 2;
/** Fewer, and a stage's transaction could wait for a connection held by another waiting for it. */
const MIN_POOL = 2;

/** The shared pool's size for `connections` in all; an error naming the flag when they are too few. */
export function poolSizeFor(connections: number, takesHooks: boolean): number {
  const reserved = LISTEN_CONNECTIONS + (takesHooks ? INGEST_CONNECTIONS : 0);
  if (connections < reserved + MIN_POOL) {
    throw new Error(`--db-connections ${connections} is too few: give at least ${reserved + MIN_POOL} (${LISTEN_CONNECTIONS} to listen${takesHooks ? `, ${INGEST_CONNECTIONS} for hooks` : ''}, ${MIN_POOL} for the rest)`);
  }
  return connections - reserved;
}

export async function openRuntime(config: Config, log: Logger = createLogger(config.logLevel, config.logFormat), opts: { connections?: number; takesHooks?: boolean } = {}): Promise<Runtime> {
  const takesHooks = opts.takesHooks ?? true;
  const poolSize = poolSizeFor(opts.connections ?? DB_CONNECTIONS.serve, takesHooks);
  const db = await connectDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize });
  const session = createSession(db.url);
  let boss: PgBoss | undefined;
  let blobs;
  try {
    blobs = openBlobStore(config.blobStore, db.pool);
    await migrate(db.pool);
    boss = await startBoss({ pool: db.pool, session }, (err) => log.error({ err: err.message }, 'queue error'), { scheduleCheckSeconds: config.scheduleCheckSeconds });
  } catch (err) {
    await session.close();
    await db.close();
    throw err;
  }
  const box = secretBox(await loadSecretKey(config.dataDir, config.secretKey));
  // Values an earlier version sealed unbound are bound to their rows before anything reads them.
  const bound = await secrets.bindUnboundSecrets(db.pool, box);
  if (bound) log.info({ secrets: bound }, 'secrets sealed again, bound to their rows');
  const deps: SchedulerDeps = {
    pool: db.pool,
    session,
    boss,
    box,
    log,
    backend: backendFor('local')!,
    blobs,
    dataDir: config.dataDir,
    publicUrl: config.publicUrl,
    workerName: `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
    heartbeatSeconds: config.heartbeatSeconds,
    artifactMaxBytes: config.artifactMaxBytes,
    logMaxBytes: config.logMaxBytes,
    cacheMaxBytes: config.cacheMaxBytes,
    planning: new PlanningPool({ seconds: config.planningSeconds }),
  };
  const ingestPool = createIngestPool(db.url);
  const ingest: IngestDeps = {
    pool: db.pool,
    directory: hookDirectory(db.pool, deps.box),
    batcher: deliveryBatcher(ingestPool, boss),
    limiter: unverifiedLimiter({ perMinute: config.unverifiedPerMinute, burst: Math.max(1, Math.ceil(config.unverifiedPerMinute / 2)) }),
    auditLimiter: auditLimiter({ perAddress: 10, overall: 60 }),
    forgeSecrets: config.forgeSecrets,
    log,
  };
  return {
    config, db, deps, ingest,
    async close() {
      await boss!.stop({ graceful: true, timeout: 10_000 });
      await deps.planning!.close();
      await ingestPool.end();
      await blobs.close();
      await session.close();
      await db.close();
    },
  };
}

/**
 * With `--run-as`, steps run as that user: the data dir keeps only a
 * traversal bit for others (its secret key, mirrors and cluster stay
 * unreadable), and workspaces live outside it, each owned by its step's user
 * and closed to others. `--fork-run-as` names a second user for the steps of
 * forks' pull requests.
 */
async function isolate(runtime: Runtime, { runAs, forkRunAs }: StepUsers): Promise<void> {
  await chmod(runtime.config.dataDir, 0o711);
  await mkdir(path.join(runtime.config.dataDir, 'mirrors'), { recursive: true, mode: 0o700 });
  await chmod(path.join(runtime.config.dataDir, 'mirrors'), 0o700);
  const workspaceRoot = path.join(tmpdir(), `forgeline-workspaces-${runtime.deps.workerName.replace(/[^A-Za-z0-9_.-]/g, '_')}`);
  await mkdir(workspaceRoot, { recursive: true, mode: 0o711 });
  runtime.deps.runAs = runAs;
  runtime.deps.forkRunAs = forkRunAs;
  runtime.deps.workspaceRoot = workspaceRoot;
}

interface StepUsers {
  runAs: RunAsUser;
  forkRunAs: RunAsUser | null;
}

/** `--run-as` and `--fork-run-as`, checked before anything is opened. */
export async function stepUsers(options: { labels?: string[]; runAs?: string; forkRunAs?: string; backend?: string }): Promise<StepUsers | null> {
  if (options.labels?.includes(FORK_LABEL)) throw new Error(`the label ${FORK_LABEL} is Forgeline's own: give --fork-run-as USER instead`);
  if (options.labels?.includes(CONTAINER_LABEL)) throw new Error(`the label ${CONTAINER_LABEL} is Forgeline's own: give --backend docker instead`);
  const own = [...(options.forkRunAs ? ['--fork-run-as'] : []), ...(options.backend && backendFor(options.backend)?.runsImages ? [`--backend ${options.backend}`] : [])];
  if (own.length && new Set(options.labels ?? []).size + own.length > MAX_LABELS) {
    throw new Error(own.length === 1
      ? `${own[0]} adds a label of its own: give at most ${MAX_LABELS - 1} --labels with it`
      : `${own.join(' and ')} add labels of their own: give at most ${MAX_LABELS - own.length} --labels with them`);
  }
  if (options.forkRunAs && !options.runAs) throw new Error('--fork-run-as needs --run-as: the other steps need a user of their own too');
  if (!options.runAs) return null;
  const runAs = await resolveUser(options.runAs);
  const forkRunAs = options.forkRunAs ? await resolveUser(options.forkRunAs, '--fork-run-as') : null;
  if (forkRunAs?.uid === runAs.uid) throw new Error(`--fork-run-as ${options.forkRunAs} is the --run-as user: name a second user, or forks' steps could read the others' environment`);
  return { runAs, forkRunAs };
}

export type WorkerFlags = WorkerOptions & { runAs?: string; forkRunAs?: string; backend?: string; containerNetwork?: string; cpus?: number; memory?: number };

/** Starts workers in an open runtime (serve does so once it listens, so a busy port starts none). */
export async function addWorkers(runtime: Runtime, options: WorkerFlags, users: StepUsers | null): Promise<Runtime> {
  const { config } = runtime;
  if (options.backend) runtime.deps.backend = backendFor(options.backend, { containerNetwork: options.containerNetwork, cpus: options.cpus, memory: options.memory })!;
  if (users) await isolate(runtime, users);
  if (!options.runAs) runtime.deps.log.warn('no --run-as: steps run as the worker\'s own user, and every pull request from a fork waits for approval');
  else if (!options.forkRunAs) runtime.deps.log.warn('no --fork-run-as: a fork\'s steps would share a user with the others, so every pull request from a fork waits for approval');
  const labels = [...(options.labels ?? []), ...(runtime.deps.forkRunAs ? [FORK_LABEL] : []), ...(runtime.deps.backend.runsImages ? [CONTAINER_LABEL] : [])];
  const workers = await startWorkers(runtime.deps, { heartbeatSeconds: config.heartbeatSeconds, shutdownSeconds: config.shutdownSeconds, ...options, labels });
  // This process plans the deliveries it receives, most likely: their commits can be on their way already.
  runtime.ingest.prefetch = commitPrefetch(runtime.deps);
  const close = runtime.close;
  return {
    ...runtime,
    workers,
    async close(graceSeconds?: number) {
      await workers.stop(graceSeconds);
      await close();
    },
  };
}

/** A runtime with workers; `forgeline worker` opens it with `{ connections: --db-connections, takesHooks: false }`. */
export async function openRuntimeWithWorkers(config: Config, options: WorkerFlags, log?: Logger, connections: { connections?: number; takesHooks?: boolean } = {}): Promise<Runtime> {
  const users = await stepUsers(options);
  const runtime = await openRuntime(config, log, connections);
  try {
    return await addWorkers(runtime, options, users);
  } catch (err) {
    await runtime.close();
    throw err;
  }
}
