import { createServer } from 'node:net';
import type { Command } from 'commander';
import { startRecovery } from '../../scheduler/index.ts';
import { listen } from '../../server/index.ts';
import { readConfig } from '../config.ts';
import { firstStart } from '../first-start.ts';
import { addWorkers, createLogger, openRuntime, stepUsers } from '../runtime.ts';
import { positiveInt } from '../options.ts';
import { onShutdown } from '../shutdown.ts';

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

export function serveCommand(program: Command): void {
  program
    .command('serve')
    .description('serve hooks, the API and the UI, with in-process workers')
    .option('--port <port>', 'port to listen on (default: PORT or 8080)', positiveInt)
    .option('--workers <n>', 'stages run at once in this process (0: none)', positiveInt, 2)
    .option('--run-as <user>', 'run steps as this unprivileged user, isolated from the data dir and the worker')
    .option('--fork-run-as <user>', 'run the steps of forks\' pull requests as this second unprivileged user (with --run-as); needed for --fork-prs run')
    .action(async (opts: { port?: number; workers: number; runAs?: string; forkRunAs?: string }) => {
      const config = readConfig(process.env, { port: opts.port });
      const log = createLogger(config.logLevel, config.logFormat);
      const workerFlags = { concurrency: opts.workers, runAs: opts.runAs, forkRunAs: opts.forkRunAs };
      const users = opts.workers > 0 ? await stepUsers(workerFlags) : null;
      await assertPortFree(config.port);
      let runtime = await openRuntime(config, log);
      let server;
      try {
        server = await listen(runtime.deps, runtime.ingest, { auth: { apiToken: config.apiToken, publicRead: config.publicRead }, bodyLimitBytes: config.bodyLimitBytes, urls: config.urls, transport: config.transport }, config.port);
      } catch (err) {
        await runtime.close();
        throw portError(config.port, err as NodeJS.ErrnoException);
      }
      const { port } = server.address() as { port: number };
      const scheme = config.transport.tlsCert ? 'https' : 'http';
      // Without FORGELINE_PUBLIC_URL, hook and target URLs name the port actually taken (--port 0: any).
      if (!process.env.FORGELINE_PUBLIC_URL) config.publicUrl = runtime.deps.publicUrl = `${scheme}://localhost:${port}`;
      const welcome = await firstStart(runtime.db.pool, { apiToken: config.apiToken, serverUrl: `${scheme}://localhost:${port}`, publicUrl: config.publicUrl });
      if (opts.workers > 0) runtime = await addWorkers(runtime, workerFlags, users);
      log.info({ port, workers: opts.workers, dataDir: config.dataDir, embeddedDatabase: runtime.db.embedded }, 'forgeline serving');
      process.stdout.write(`Forgeline listening on ${scheme}://localhost:${port} (hooks: ${config.publicUrl}/hooks/<hookId>)\n`);
      if (welcome) process.stdout.write(welcome);
      const stopRecovery = startRecovery(runtime.deps, config.recoverySeconds);
      const running = runtime;
      onShutdown(async () => {
        stopRecovery();
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
        await running.close();
      });
    });
}
