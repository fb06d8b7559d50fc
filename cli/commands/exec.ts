import path from 'node:path';
import { Option, type Command } from 'commander';
import { execLocally } from '../../scheduler/index.ts';
import { collect, inputsOf } from '../options.ts';

export function execCommand(program: Command): void {
  program
    .command('exec')
    .description('run a pipeline from a working tree, locally, without server or database')
    .option('--dir <dir>', 'the working tree (default: the current directory)', '.')
    .option('--pipeline <name>', 'the pipeline (default: the first)')
    .option('--stage <name>', 'only this stage')
    .option('--event <kind>', 'push, pull_request or manual: what `if` conditions and variables see', 'push')
    .option('--input <name=value>', 'a manual input (repeatable)', collect, [])
    .addOption(new Option('--backend <name>', 'docker: stages that name an image run in it (the default when one does); local: every step on this machine, ignoring images').choices(['local', 'docker']))
    .option('--container-network <name>', 'the network stage containers join (none, host, or a network of the engine; default: the engine\'s)')
    .action(async (opts: { dir: string; pipeline?: string; stage?: string; event: string; input: string[]; backend?: string; containerNetwork?: string }) => {
      if (!['push', 'pull_request', 'manual'].includes(opts.event)) throw new Error('--event must be push, pull_request or manual');
      const inputs = inputsOf(opts.input);
      const result = await execLocally({
        dir: path.resolve(opts.dir), pipeline: opts.pipeline, stage: opts.stage, event: opts.event as 'push', inputs, backend: opts.backend, containerNetwork: opts.containerNetwork,
        out: (chunk) => process.stdout.write(chunk),
      });
      if (result.results.some((r) => r.status === 'failure')) process.exitCode = 1;
    });
}
