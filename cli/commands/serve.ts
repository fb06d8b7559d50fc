import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { createServer } from 'node:net';
import path from 'node:path';
import type { Command } from 'commander';
import { startRecovery } from '../../ingest/index.ts';
import { startPruning } from '../../scheduler/index.ts';
import { listen } from '../../server/index.ts';
import { readConfig } from '../config.ts';
import { firstStart } from '../first-start.ts';
import { backendOption, addContainerOptions, dbConnectionsOption, positiveInt } from '../options.ts';
import { addWorkers, createLogger, DB_CONNECTIONS, openRuntime, stepUsers, type Runtime } from '../runtime.ts';
import { stopOnSignals } from '../shutdown.ts';

/** Ctrl-C is a person waiting at a terminal: running stages get a few seconds, not FORGELINE_SHUTDOWN_SECONDS. */
const INTERACTIVE_GRACE_SECONDS = 3;

/** A busy port ends serve at once, before the database starts or any worker takes a stage. */
async function assertPortFree(port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => reject(portError(port, err)));
    probe.listen(port, '0.0.0.0', () => probe.close(() => resolve()));
  });
}

function portError(port: number, err: NodeJS.ErrnoException): Error {
  if (err.code === 'EADDRINUSE') return new Error(`port ${port} is in use: stop what listens there, or give --port (or PORT) another port`);
  if (err.code === 'EACCES') return new Error(`port ${port} needs privileges this user lacks: give --port (or PORT) 1024 or above`);
  return err;
}

/** Earlier versions kept their data in ./.forgeline: starting afresh elsewhere would leave its secrets unreadable. */
function legacyDataDir(dataDir: string): string | null {
  const legacy = path.resolve('.forgeline');
  if (process.env.FORGELINE_DATA_DIR || legacy === dataDir) return null;
  return existsSync(path.join(legacy, 'secret.key')) || existsSync(path.join(legacy, 'postgres', 'PG_VERSION')) ? legacy : null;
}

export function serveCommand(program: Command): void {
  addContainerOptions(program
    .command('serve')
    .description('serve hooks, the API and the UI, with in-process workers')
    .option('--port <port>', 'port to listen on (default: PORT or 8080)', positiveInt)
    .option('--public-url <url>', 'the base of hook and run URLs, as forges and people reach it (default: FORGELINE_PUBLIC_URL, else http://localhost:PORT)')
    .option('--workers <n>', 'stages run at once in this process (0: none)', positiveInt, 2)
    .option('--run-as <user>', 'run steps as this unprivileged user, isolated from the data dir and the worker')
    .option('--fork-run-as <user>', 'run the steps of forks\' pull requests as this second unprivileged user (with --run-as); needed for --fork-prs run')
    .addOption(backendOption())
    .addOption(dbConnectionsOption(DB_CONNECTIONS.serve)))
    .action(async (opts: { port?: number; publicUrl?: string; workers: number; runAs?: string; forkRunAs?: string; backend: string; containerNetwork?: string; cpus?: number; memory?: number; dbConnections: number }) => {
      const env = opts.publicUrl ? { ...process.env, FORGELINE_PUBLIC_URL: opts.publicUrl } : process.env;
      const config = readConfig(env, { port: opts.port });
      const grace = (signal: string) => (signal === 'SIGINT' ? Math.min(INTERACTIVE_GRACE_SECONDS, config.shutdownSeconds) : config.shutdownSeconds);
      const signals = stopOnSignals((signal) => grace(signal) + 20);
      const log = createLogger(config.logLevel, config.logFormat);
      const workerFlags = { concurrency: opts.workers, runAs: opts.runAs, forkRunAs: opts.forkRunAs, backend: opts.backend, containerNetwork: opts.containerNetwork, cpus: opts.cpus, memory: opts.memory };
      const users = opts.workers > 0 ? await stepUsers(workerFlags) : null;
      await assertPortFree(config.port);
      const legacy = legacyDataDir(config.dataDir);
      if (legacy) log.warn({ legacy, dataDir: config.dataDir }, `found an earlier data dir at ${legacy}; this start uses ${config.dataDir}. To keep the old one, start with FORGELINE_DATA_DIR=${legacy}`);
      let runtime: Runtime = await openRuntime(config, log, { connections: opts.dbConnections, takesHooks: true });
      let server: Server | undefined;
      let stopRecovery = () => {};
      let stopPruning = () => {};
      const stop = async (graceSeconds?: number) => {
        stopRecovery();
        stopPruning();
        if (server) {
          server.closeAllConnections();
          await new Promise((resolve) => server!.close(resolve));
        }
        await runtime.close(graceSeconds);
      };
      try {
        try {
          server = await listen(runtime.deps, runtime.ingest, { auth: { apiToken: config.apiToken, publicRead: config.publicRead }, bodyLimitBytes: config.bodyLimitBytes, urls: config.urls, transport: config.transport }, config.port);
        } catch (err) {
          throw portError(config.port, err as NodeJS.ErrnoException);
        }
        const { port } = server.address() as { port: number };
        const scheme = config.transport.tlsCert ? 'https' : 'http';
        // Without FORGELINE_PUBLIC_URL, hook and target URLs name the port actually taken (--port 0: any).
        if (!env.FORGELINE_PUBLIC_URL) config.publicUrl = runtime.deps.publicUrl = `${scheme}://localhost:${port}`;
        const welcome = await firstStart(runtime.db.pool, { apiToken: config.apiToken, serverUrl: `${scheme}://localhost:${port}`, publicUrl: config.publicUrl });
        if (opts.workers > 0) runtime = await addWorkers(runtime, workerFlags, users);
        log.info({ port, workers: opts.workers, dataDir: config.dataDir, embeddedDatabase: runtime.db.embedded }, 'forgeline serving');
        process.stdout.write(`Forgeline listening on ${scheme}://localhost:${port} (hooks: ${config.publicUrl}/hooks/<hookId>)\n`);
        if (welcome) process.stdout.write(welcome);
        stopRecovery = startRecovery(runtime.deps, config.recoverySeconds);
        stopPruning = startPruning(runtime.deps, config.retentionDays, config.pruneIntervalSeconds);
      } catch (err) {
        // Nothing half-started stays behind: the server, the workers, the queues, the embedded PostgreSQL.
        await stop(0);
        throw err;
      }
      signals.started((signal) => stop(grace(signal)));
    });
}
