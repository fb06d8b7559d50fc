import { Command } from 'commander';
import { adminCommands } from './commands/admin.ts';
import { execCommand } from './commands/exec.ts';
import { explainCommand } from './commands/explain.ts';
import { migrateCommand } from './commands/migrate.ts';
import { repoCommand } from './commands/repo.ts';
import { runCommands } from './commands/runs.ts';
import { sourceCommands } from './commands/sources.ts';
import { serveCommand } from './commands/serve.ts';
import { validateCommand } from './commands/validate.ts';
import { workerCommand } from './commands/worker.ts';

const program = new Command()
  .name('forgeline')
  .description('Self-hosted CI/CD: forge webhooks in, pipeline stages on workers, commit statuses out.')
  .showHelpAfterError();

serveCommand(program);
workerCommand(program);
migrateCommand(program);
repoCommand(program);
validateCommand(program);
explainCommand(program);
runCommands(program);
execCommand(program);
adminCommands(program);
sourceCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`forgeline: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
