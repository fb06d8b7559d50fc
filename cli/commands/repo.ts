import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { forgeNames } from '../../providers/index.ts';
import { ApiClient, seg } from '../client.ts';
import { collect } from '../options.ts';
import { printJson, printTable } from '../output.ts';

interface RepoItem { id: string; forge: string; name: string; cloneUrl: string; hookUrl: string }

export function repoCommand(program: Command): void {
  const repo = program.command('repo').description('manage registered repositories');

  repo
    .command('add')
    .description('register a repository; prints {"id", "hookUrl", "secret"}')
    .requiredOption('--forge <forge>', forgeNames().join(', '))
    .requiredOption('--name <owner/repo>', 'the repository’s full name')
    .option('--clone-url <url>', 'where to fetch commits from (default: the forge’s public URL)')
    .option('--api-url <url>', 'the forge’s API base (default: the public forge’s)')
    .option('--token-env <VAR>', 'read the forge API token from this environment variable')
    .option('--secret <secret>', 'the webhook secret (default: random)')
    .option('--fork-prs <policy>', 'approve, run (unapproved, on workers with --fork-run-as) or ignore', 'approve')
    .option('--register', 'also create (or update) the webhook on the forge through its API')
    .option('--allow-cidr <cidr>', 'only these source addresses may call the hook (repeatable)', collect, [])
    .option('--github-app-id <id>', 'GitHub App mode: report stages as check runs of this App')
    .option('--github-app-key-file <file>', 'the App\'s private key (PEM), stored encrypted')
    .option('--json', 'print JSON (the default)')
    .action(async (opts: { forge: string; name: string; cloneUrl?: string; apiUrl?: string; tokenEnv?: string; secret?: string; forkPrs: string; register?: boolean; githubAppId?: string; githubAppKeyFile?: string; allowCidr: string[] }) => {
      if (Boolean(opts.githubAppId) !== Boolean(opts.githubAppKeyFile)) throw new Error('GitHub App mode needs both --github-app-id and --github-app-key-file');
      let token: string | undefined;
      if (opts.tokenEnv) {
        token = process.env[opts.tokenEnv];
        if (!token) throw new Error(`--token-env ${opts.tokenEnv}: that variable is empty or not set`);
      }
      const client = new ApiClient();
      printJson(await client.json('POST', '/api/repos', {
        forge: opts.forge, name: opts.name, cloneUrl: opts.cloneUrl, apiUrl: opts.apiUrl, token, secret: opts.secret, forkPrs: opts.forkPrs,
        register: opts.register === true, allowCidrs: opts.allowCidr,
        githubApp: opts.githubAppId ? { appId: opts.githubAppId, privateKey: await readFile(opts.githubAppKeyFile!, 'utf8') } : undefined,
      }));
    });

  repo
    .command('list')
    .description('list registered repositories')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const { items } = await new ApiClient().json<{ items: RepoItem[] }>('GET', '/api/repos');
      if (opts.json) return printJson(items);
      printTable(['ID', 'FORGE', 'NAME', 'HOOK URL'], items.map((r) => [r.id, r.forge, r.name, r.hookUrl]));
    });

  repo
    .command('rotate-secret <repo>')
    .description('add a new webhook secret (the old ones stay valid); --retire-old retires all but the newest')
    .option('--retire-old', 'finish a rotation: only the newest secret stays valid')
    .option('--secret <secret>', 'the new secret (default: random)')
    .option('--json', 'print JSON (the default)')
    .action(async (repoName: string, opts: { retireOld?: boolean; secret?: string }) => {
      printJson(await new ApiClient().json('POST', `/api/repos/${seg(repoName)}/rotate-secret`, { retireOld: opts.retireOld === true, secret: opts.secret }));
    });

  repo
    .command('remove <repo>')
    .description('unregister a repository (its hook stops answering)')
    .option('--json', 'print JSON (the default)')
    .action(async (repoName: string) => {
      printJson(await new ApiClient().json('DELETE', `/api/repos/${seg(repoName)}`));
    });
}
