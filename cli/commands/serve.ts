import type { Command } from 'commander';
import { startRecovery } from '../../scheduler/index.ts';
import { listen } from '../../server/index.ts';
import { readConfig } from '../config.ts';
import { createLogger, openRuntime, openRuntimeWithWorkers } from '../runtime.ts';
import { onShutdown, positiveInt } from '../shared.ts';

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
      const log = createLogger(config.logLevel);
      const runtime = opts.workers > 0 ? await openRuntimeWithWorkers(config, { concurrency: opts.workers, runAs: opts.runAs, forkRunAs: opts.forkRunAs }, log) : await openRuntime(config, log);
      const server = await listen(runtime.deps, runtime.ingest, { auth: { apiToken: config.apiToken, publicRead: config.publicRead }, bodyLimitBytes: config.bodyLimitBytes, urls: config.urls, transport: config.transport }, config.port);
      const { port } = server.address() as { port: number };
      log.info({ port, workers: opts.workers, embeddedDatabase: runtime.db.embedded }, 'forgeline serving');
      process.stdout.write(`Forgeline listening on ${config.transport.tlsCert ? 'https' : 'http'}://localhost:${port} (hooks: ${config.publicUrl}/hooks/<hookId>)\n`);
      const stopRecovery = startRecovery(runtime.deps, config.recoverySeconds);
      onShutdown(async () => {
        stopRecovery();
        await new Promise((resolve) => server.close(resolve));
        await runtime.close();
      });
    });
}
