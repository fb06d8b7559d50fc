import type { Command } from 'commander';
import { addToken } from '../../scheduler/index.ts';
import { ApiClient, seg } from '../client.ts';
import { printJson, printTable } from '../output.ts';
import { CLI_ACTOR, withRuntime } from '../with-runtime.ts';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  // One trailing newline (from echo or a file) is not part of the secret.
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

const list = (value: string) => value.split(',').map((s) => s.trim()).filter(Boolean);
const envQuery = (env?: string) => (env ? `?environment=${seg(env)}` : '');

export function adminCommands(program: Command): void {
  const secret = program.command('secret').description('repository and environment secrets, encrypted at rest');
  secret
    .command('set <name>')
    .description('set a secret; the value is read from standard input')
    .requiredOption('--repo <repo>', 'repository id or full name')
    .option('--env <environment>', 'an environment\'s own secret')
    .action(async (name: string, opts: { repo: string; env?: string }) => {
      const value = await readStdin();
      printJson(await new ApiClient().json('PUT', `/api/repos/${seg(opts.repo)}/secrets/${seg(name)}`, { value, environment: opts.env }));
    });
  secret
    .command('list')
    .description('secret names (values are never shown)')
    .requiredOption('--repo <repo>', 'repository id or full name')
    .option('--json', 'print JSON')
    .action(async (opts: { repo: string; json?: boolean }) => {
      const { items } = await new ApiClient().json<{ items: Array<{ environment: string | null; name: string }> }>('GET', `/api/repos/${seg(opts.repo)}/secrets`);
      if (opts.json) return printJson(items);
      printTable(['ENVIRONMENT', 'NAME'], items.map((s) => [s.environment ?? '(repository)', s.name]));
    });
  secret
    .command('remove <name>')
    .requiredOption('--repo <repo>', 'repository id or full name')
    .option('--env <environment>', 'an environment\'s own secret')
    .action(async (name: string, opts: { repo: string; env?: string }) => {
      await new ApiClient().json('DELETE', `/api/repos/${seg(opts.repo)}/secrets/${seg(name)}${envQuery(opts.env)}`);
    });

  const env = program.command('env').description('environment protection, kept on the server');
  env
    .command('set <name>')
    .requiredOption('--repo <repo>', 'repository id or full name')
    .option('--branches <globs>', 'comma-separated globs of the branches that may deploy')
    .option('--tags <globs>', 'comma-separated globs of the tags that may deploy (a tag never matches --branches)')
    .option('--approval <mode>', 'required or none', 'none')
    .option('--approvers <names>', 'comma-separated token names that may approve')
    .action(async (name: string, opts: { repo: string; branches?: string; tags?: string; approval: string; approvers?: string }) => {
      printJson(await new ApiClient().json('PUT', `/api/repos/${seg(opts.repo)}/environments/${seg(name)}`, {
        branches: opts.branches ? list(opts.branches) : null, tags: opts.tags ? list(opts.tags) : null, approval: opts.approval, approvers: opts.approvers ? list(opts.approvers) : null,
      }));
    });
  env
    .command('list')
    .requiredOption('--repo <repo>', 'repository id or full name')
    .option('--json', 'print JSON')
    .action(async (opts: { repo: string; json?: boolean }) => {
      type Env = { name: string; branches: string[] | null; tags: string[] | null; approval: boolean; approvers: string[] | null; deployed: { sha: string; runId: number } | null };
      const { items } = await new ApiClient().json<{ items: Env[] }>('GET', `/api/repos/${seg(opts.repo)}/environments`);
      if (opts.json) return printJson(items);
      const anyRef = (e: Env) => (e.branches || e.tags ? '(none)' : '(any)');
      printTable(['NAME', 'BRANCHES', 'TAGS', 'APPROVAL', 'APPROVERS', 'DEPLOYED'], items.map((e) => [
        e.name, e.branches?.join(',') ?? anyRef(e), e.tags?.join(',') ?? anyRef(e), e.approval ? 'required' : 'none', e.approvers?.join(',') ?? '', e.deployed ? `${e.deployed.sha.slice(0, 7)} (run ${e.deployed.runId})` : '',
      ]));
    });
  env
    .command('remove <name>')
    .description('remove an environment\'s protection and its secrets (its deployment history stays)')
    .requiredOption('--repo <repo>', 'repository id or full name')
    .action(async (name: string, opts: { repo: string }) => {
      await new ApiClient().json('DELETE', `/api/repos/${seg(opts.repo)}/environments/${seg(name)}`);
    });

  const token = program.command('token').description('named API tokens with a role: read, write, approve or admin');
  token
    .command('add <name>')
    .requiredOption('--role <role>', 'read, write, approve or admin')
    .option('--database', 'bootstrap: write the token straight into the database (DATABASE_URL or the data dir), with no server and no token')
    .action(async (name: string, opts: { role: string; database?: boolean }) => {
      printJson(opts.database
        ? await withRuntime((rt) => addToken(rt.db.pool, name, opts.role, CLI_ACTOR))
        : await new ApiClient().json('POST', '/api/tokens', { name, role: opts.role }));
    });
  token
    .command('list')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const { items } = await new ApiClient().json<{ items: Array<{ name: string; role: string; revokedAt: string | null }> }>('GET', '/api/tokens');
      if (opts.json) return printJson(items);
      printTable(['NAME', 'ROLE', 'STATE'], items.map((t) => [t.name, t.role, t.revokedAt ? 'revoked' : 'active']));
    });
  token
    .command('revoke <name>')
    .action(async (name: string) => {
      await new ApiClient().json('DELETE', `/api/tokens/${seg(name)}`);
    });
}
