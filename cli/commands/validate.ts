import path from 'node:path';
import type { Command } from 'commander';
import { formatProblem } from '../../pipelines/index.ts';
import { validateFiles } from '../../scheduler/index.ts';
import { printJson } from '../output.ts';

export function validateCommand(program: Command): void {
  program
    .command('validate [files...]')
    .description('validate pipeline files (default .forgeline/*.yml); prints file:line:col: message per problem, exit 1 on any')
    .option('--dir <dir>', 'the repository whose files to check (default: the current directory)', '.')
    .option('--json', 'print {"files", "problems": [{file, line, col, message}]}')
    .action(async (files: string[], opts: { dir: string; json?: boolean }) => {
      const result = await validateFiles(files, path.resolve(opts.dir));
      if (opts.json) printJson(result);
      else if (result.problems.length) for (const p of result.problems) process.stdout.write(`${formatProblem(p)}\n`);
      else process.stdout.write(`${result.files.length} file(s) valid\n`);
      if (result.problems.length) process.exitCode = 1;
    });
}
