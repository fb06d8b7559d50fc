import type { Server } from 'node:http';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { readConfig, type Config } from '../../cli/config.ts';
import { addWorkers, openRuntime, openRuntimeWithWorkers, stepUsers, type Runtime } from '../../cli/runtime.ts';
import type { Backend } from '../../runners/index.ts';
import { addToken } from '../../scheduler/index.ts';
import { listen } from '../../server/index.ts';
import { freshDatabase, type TestDatabase } from './database.ts';

export interface TestForgeline {
  url: string;
  config: Config;
  runtime: Runtime;
  database: TestDatabase;
  /** The environment of a process of this instance's (a worker, a serve): its database and data dir. */
  env: NodeJS.ProcessEnv;
  /** The environment of a CLI client: this server and an admin token, and no database, so a command that reached for one would fail. */
  clientEnv: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

export interface TestForgelineOptions {
  workers?: number;
  backstopPollSeconds?: number;
  /** `--run-as`: steps run as this user. */
  runAs?: string;
  /** `--fork-run-as`: forks' steps run as this second user. */
  forkRunAs?: string;
  env?: Record<string, string>;
  /** Where the process's log goes (silent unless TEST_LOG_LEVEL is set). */
  log?: pino.Logger;
  /** The back end the workers run stages on (default: local). */
  backend?: Backend;
  /** Connect through something else than the test database's own URL (a proxy). */
  mapDatabaseUrl?: (url: string) => Promise<string> | string;
}

/** A real Forgeline (HTTP server and workers) in this process, on its own database and data dir. */
export async function startForgeline(opts: TestForgelineOptions = {}): Promise<TestForgeline> {
  const database = await freshDatabase();
  const dataDir = await mkdtemp(path.join(tmpdir(), 'forgeline-data-'));
  await chmod(dataDir, 0o755);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    DATABASE_URL: opts.mapDatabaseUrl ? await opts.mapDatabaseUrl(database.url) : database.url,
    FORGELINE_DATA_DIR: dataDir,
    FORGELINE_ALLOW_LOCAL: 'true',
    FORGELINE_SECRET_KEY: 'test-secret-key',
    FORGELINE_PUBLIC_URL: 'http://forgeline.test',
    FORGELINE_PUBLIC_READ: 'true',
    ...opts.env,
  };
  const config = readConfig(env, { port: 0 });
  const log = opts.log ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const workers = opts.workers ?? 2;
  const flags = { concurrency: workers, backstopPollSeconds: opts.backstopPollSeconds, runAs: opts.runAs, forkRunAs: opts.forkRunAs };
  let runtime: Runtime;
  if (workers > 0 && opts.backend) {
    // As openRuntimeWithWorkers, with this back end in place before the workers say what they run.
    const users = await stepUsers(flags);
    const opened = await openRuntime(config, log);
    opened.deps.backend = opts.backend;
    runtime = await addWorkers(opened, flags, users);
  } else {
    runtime = workers > 0 ? await openRuntimeWithWorkers(config, flags, log) : await openRuntime(config, log);
  }
  const server: Server = await listen(runtime.deps, runtime.ingest, { auth: { apiToken: config.apiToken, publicRead: config.publicRead }, bodyLimitBytes: config.bodyLimitBytes, urls: config.urls, transport: config.transport }, 0, '127.0.0.1');
  const { port } = server.address() as { port: number };
  const url = `${config.transport.tlsCert ? 'https' : 'http'}://127.0.0.1:${port}`;
  // The CLI is a client of this server's API, with a token of its own and a config dir of its own.
  const clientEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    FORGELINE_SERVER: url,
    FORGELINE_TOKEN: (await addToken(runtime.db.pool, 'cli-admin', 'admin', 'test')).token,
    XDG_CONFIG_HOME: path.join(dataDir, 'config'),
  };
  return {
    url,
    config, runtime, database, env, clientEnv,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await runtime.close();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
