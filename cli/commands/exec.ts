import type { Command } from 'commander';
import { execLocally } from '../../scheduler/index.ts';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function execCommand(program: Command): void {
  program
    .command('exec')
    .description('run a pipeline from the current working tree, locally, without server or database')
    .option('--pipeline <name>', 'the pipeline (default: the first)')
    .option('--stage <name>', 'only this stage')
    .option('--event <kind>', 'push, pull_request or manual: what `if` conditions and variables see', 'push')
    .option('--input <name=value>', 'a manual input (repeatable)', collect, [])
    .action(async (opts: { pipeline?: string; stage?: string; event: string; input: string[] }) => {
      if (!['push', 'pull_request', 'manual'].includes(opts.event)) throw new Error('--event must be push, pull_request or manual');
      const inputs = Object.fromEntries(opts.input.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
      const result = await execLocally({
        dir: process.cwd(), pipeline: opts.pipeline, stage: opts.stage, event: opts.event as 'push', inputs,
        out: (chunk) => process.stdout.write(chunk),
      });
      if (result.results.some((r) => r.status === 'failure')) process.exitCode = 1;
    });
}
