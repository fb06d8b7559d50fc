import type { Command } from 'commander';
import { addToken, listSecrets, removeSecret, revokeToken, setEnvironment, setSecret } from '../../scheduler/index.ts';
import { tokens } from '../../store/index.ts';
import { printJson } from '../shared.ts';
import { CLI_ACTOR, withRuntime } from '../with-runtime.ts';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  // One trailing newline (from echo or a file) is not part of the secret.
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

const list = (value: string) => value.split(',').map((s) => s.trim()).filter(Boolean);

export function adminCommands(program: Command): void {
  const secret = program.command('secret').description('repository and environment secrets, encrypted at rest');
  secret
    .command('set <name>')
    .description('set a secret; the value is read from standard input')
    .requiredOption('--repo <repo>', 'repository id or full name')
    .option('--env <environment>', 'an environment\'s own secret')
    .action(async (name: string, opts: { repo: string; env?: string }) => {
      const value = await readStdin();
      printJson(await withRuntime((rt) => setSecret(rt.deps, { repo: opts.repo, environment: opts.env, name, value }, CLI_ACTOR)));
    });
  secret
    .command('list')
    .description('secret names (values are never shown)')
    .requiredOption('--repo <repo>', 'repository id or full name')
    .option('--json', 'print JSON')
    .action(async (opts: { repo: string; json?: boolean }) => {
      const names = await withRuntime((rt) => listSecrets(rt.db.pool, opts.repo));
      if (opts.json) return printJson(names);
      for (const s of names) process.stdout.write(`${s.environment ?? '(repository)'}\t${s.name}\n`);
    });
  secret
    .command('remove <name>')
    .requiredOption('--repo <repo>', 'repository id or full name')
    .option('--env <environment>', 'an environment\'s own secret')
    .action(async (name: string, opts: { repo: string; env?: string }) => {
      if (!(await withRuntime((rt) => removeSecret(rt.db.pool, { repo: opts.repo, environment: opts.env, name }, CLI_ACTOR)))) throw new Error(`no secret ${name}`);
    });

  program
    .command('env')
    .description('environment protection, kept on the server')
    .command('set <name>')
    .requiredOption('--repo <repo>', 'repository id or full name')
    .option('--branches <globs>', 'comma-separated branch (or tag) globs that may deploy')
    .option('--approval <mode>', 'required or none', 'none')
    .option('--approvers <names>', 'comma-separated token names that may approve')
    .action(async (name: string, opts: { repo: string; branches?: string; approval: string; approvers?: string }) => {
      if (!['required', 'none'].includes(opts.approval)) throw new Error('--approval must be required or none');
      printJson(await withRuntime((rt) => setEnvironment(rt.db.pool, {
        repo: opts.repo, name, branches: opts.branches ? list(opts.branches) : null, approval: opts.approval === 'required',
        approvers: opts.approvers ? list(opts.approvers) : null,
      }, CLI_ACTOR)));
    });

  const token = program.command('token').description('named API tokens with a role: read, write, approve or admin');
  token
    .command('add <name>')
    .requiredOption('--role <role>', 'read, write, approve or admin')
    .action(async (name: string, opts: { role: string }) => {
      printJson(await withRuntime((rt) => addToken(rt.db.pool, name, opts.role, CLI_ACTOR)));
    });
  token
    .command('list')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const all = await withRuntime((rt) => tokens.listTokens(rt.db.pool));
      if (opts.json) return printJson(all);
      for (const t of all) process.stdout.write(`${t.name}\t${t.role}${t.revokedAt ? '\trevoked' : ''}\n`);
    });
  token
    .command('revoke <name>')
    .action(async (name: string) => {
      if (!(await withRuntime((rt) => revokeToken(rt.db.pool, name, CLI_ACTOR)))) throw new Error(`no active token ${name}`);
    });
}
