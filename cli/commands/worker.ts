import type { Command } from 'commander';
import { readConfig } from '../config.ts';
import { createLogger, openRuntimeWithWorkers } from '../runtime.ts';
import { onShutdown, positiveInt } from '../shared.ts';

export function workerCommand(program: Command): void {
  program
    .command('worker')
    .description('run workers only, against the same database as the server')
    .option('--concurrency <n>', 'stages run at once', positiveInt, 2)
    .action(async (opts: { concurrency: number }) => {
      const config = readConfig();
      const log = createLogger(config.logLevel);
      const runtime = await openRuntimeWithWorkers(config, { concurrency: opts.concurrency }, log);
      log.info({ concurrency: opts.concurrency, worker: runtime.deps.workerName }, 'forgeline worker started');
      onShutdown(() => runtime.close());
    });
}
