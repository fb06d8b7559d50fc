import type { Command } from 'commander';
import { readConfig } from '../config.ts';
import { backendOption, addContainerOptions, dbConnectionsOption, positiveInt } from '../options.ts';
import { createLogger, DB_CONNECTIONS, openRuntimeWithWorkers } from '../runtime.ts';
import { stopOnSignals } from '../shutdown.ts';

export function workerCommand(program: Command): void {
  addContainerOptions(program
    .command('worker')
    .description('run workers only, against the same database as the server')
    .option('--concurrency <n>', 'stages run at once', positiveInt, 2)
    .option('--labels <labels>', 'comma-separated labels for runs-on (e.g. linux,gpu)', (v: string) => v.split(',').map((l) => l.trim()).filter(Boolean), [])
    .option('--run-as <user>', 'run steps as this unprivileged user, isolated from the data dir and the worker')
    .option('--fork-run-as <user>', 'run the steps of forks\' pull requests as this second unprivileged user (with --run-as); needed for --fork-prs run')
    .addOption(backendOption())
    .addOption(dbConnectionsOption(DB_CONNECTIONS.worker)))
    .action(async (opts: { concurrency: number; labels: string[]; runAs?: string; forkRunAs?: string; backend: string; containerNetwork?: string; cpus?: number; memory?: number; dbConnections: number }) => {
      const config = readConfig();
      const signals = stopOnSignals(() => config.shutdownSeconds + 20);
      const log = createLogger(config.logLevel, config.logFormat);
      const runtime = await openRuntimeWithWorkers(config, { concurrency: opts.concurrency, labels: opts.labels, runAs: opts.runAs, forkRunAs: opts.forkRunAs, backend: opts.backend, containerNetwork: opts.containerNetwork, cpus: opts.cpus, memory: opts.memory }, log, { connections: opts.dbConnections, takesHooks: false });
      log.info({ concurrency: opts.concurrency, labels: opts.labels, backend: runtime.deps.backend.name, worker: runtime.deps.workerName }, 'forgeline worker started');
      process.stdout.write(`Forgeline worker ${runtime.deps.workerName} started\n`);
      signals.started(() => runtime.close());
    });
}
