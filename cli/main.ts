import { existsSync, readFileSync } from 'node:fs';
import { Command } from 'commander';
import { adminCommands } from './commands/admin.ts';
import { execCommand } from './commands/exec.ts';
import { explainCommand } from './commands/explain.ts';
import { loginCommand } from './commands/login.ts';
import { migrateCommand } from './commands/migrate.ts';
import { pruneCommand } from './commands/prune.ts';
import { repoCommand } from './commands/repo.ts';
import { runCommands } from './commands/runs.ts';
import { sourceCommands } from './commands/sources.ts';
import { serveCommand } from './commands/serve.ts';
import { validateCommand } from './commands/validate.ts';
import { workerCommand } from './commands/worker.ts';
import { ApiError, setServerFlag } from './client.ts';

// package.json sits beside cli/ in a checkout, and beside dist/ in the packed package.
const manifest = [new URL('../package.json', import.meta.url), new URL('../../package.json', import.meta.url)].find((u) => existsSync(u))!;
const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };

const program = new Command()
  .name('forgeline')
  .version(version)
  .description('Self-hosted CI/CD: forge webhooks in, pipeline stages on workers, commit statuses out.')
  .option('--server <url>', 'the Forgeline server that client commands talk to (default: FORGELINE_SERVER, else the config `forgeline login` writes)')
  .showHelpAfterError()
  .hook('preAction', (_program, command) => setServerFlag(command.optsWithGlobals().server as string | undefined));

serveCommand(program);
workerCommand(program);
migrateCommand(program);
pruneCommand(program);
repoCommand(program);
validateCommand(program);
explainCommand(program);
runCommands(program);
execCommand(program);
adminCommands(program);
loginCommand(program);
sourceCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // What the user must change, without a stack trace: a refusal of the server's, or an error of ours that says what to do.
  process.stderr.write(`forgeline: ${(err as Error).message}${err instanceof ApiError && err.status >= 500 ? ` (HTTP ${err.status})` : ''}\n`);
  process.exitCode = 1;
}
