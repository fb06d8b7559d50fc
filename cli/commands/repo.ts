import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { registerRepo, removeRepository, rotateSecret } from '../../scheduler/index.ts';
import { connectDatabase, loadSecretKey, migrate, repos, secretBox, type SecretBox } from '../../store/index.ts';
import { readConfig } from '../config.ts';
import { printJson } from '../shared.ts';

async function withDatabase<T>(fn: (ctx: { config: ReturnType<typeof readConfig>; db: Awaited<ReturnType<typeof connectDatabase>>; box: SecretBox }) => Promise<T>): Promise<T> {
  const config = readConfig();
  const db = await connectDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: 2 });
  try {
    await migrate(db.pool);
    return await fn({ config, db, box: secretBox(await loadSecretKey(config.dataDir, config.secretKey)) });
  } finally {
    await db.close();
  }
}

export function repoCommand(program: Command): void {
  const repo = program.command('repo').description('manage registered repositories');

  repo
    .command('add')
    .description('register a repository; prints {"id", "hookUrl", "secret"}')
    .requiredOption('--forge <forge>', 'github, gitlab, bitbucket, bitbucket-server or gitea')
    .requiredOption('--name <owner/repo>', 'the repository’s full name')
    .option('--clone-url <url>', 'where to fetch commits from (default: the forge’s public URL)')
    .option('--api-url <url>', 'the forge’s API base (default: the public forge’s)')
    .option('--token-env <VAR>', 'read the API token from this environment variable')
    .option('--secret <secret>', 'the webhook secret (default: random)')
    .option('--fork-prs <policy>', 'approve, run (unapproved, on workers with --fork-run-as) or ignore', 'approve')
    .option('--register', 'also create (or update) the webhook on the forge through its API, URL from FORGELINE_PUBLIC_URL')
    .option('--allow-cidr <cidr>', 'only these source addresses may call the hook (repeatable)', (v: string, prev: string[]) => [...prev, v], [])
    .option('--github-app-id <id>', 'GitHub App mode: report stages as check runs of this App')
    .option('--github-app-key-file <file>', 'the App\'s private key (PEM), stored encrypted')
    .option('--json', 'print JSON (the default)')
    .action(async (opts: { forge: string; name: string; cloneUrl?: string; apiUrl?: string; tokenEnv?: string; secret?: string; forkPrs: string; register?: boolean; githubAppId?: string; githubAppKeyFile?: string; allowCidr: string[] }) => {
      if (Boolean(opts.githubAppId) !== Boolean(opts.githubAppKeyFile)) throw new Error('GitHub App mode needs both --github-app-id and --github-app-key-file');
      const app = opts.githubAppId ? { appId: opts.githubAppId, privateKey: await readFile(opts.githubAppKeyFile!, 'utf8') } : null;
      let token: string | null = null;
      if (opts.tokenEnv) {
        token = process.env[opts.tokenEnv] ?? null;
        if (!token) throw new Error(`--token-env ${opts.tokenEnv}: that variable is empty or not set`);
      }
      const result = await withDatabase(async ({ config, db, box }) => registerRepo(
        { pool: db.pool, box, publicUrl: config.publicUrl, urls: config.urls },
        { forge: opts.forge, name: opts.name, cloneUrl: opts.cloneUrl, apiUrl: opts.apiUrl, token, secret: opts.secret, forkPrs: opts.forkPrs, register: opts.register === true, app, allowCidrs: opts.allowCidr },
        'cli'));
      printJson(result);
    });

  repo
    .command('list')
    .description('list registered repositories')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const list = await withDatabase(({ db }) => repos.listRepos(db.pool));
      if (opts.json) return printJson(list);
      for (const r of list) process.stdout.write(`${r.id}\t${r.forge}\t${r.name}\t${r.cloneUrl}\n`);
    });

  repo
    .command('rotate-secret <repo>')
    .description('add a new webhook secret (the old ones stay valid); --retire-old retires all but the newest')
    .option('--retire-old', 'finish a rotation: only the newest secret stays valid')
    .option('--secret <secret>', 'the new secret (default: random)')
    .option('--json', 'print JSON (the default)')
    .action(async (repoName: string, opts: { retireOld?: boolean; secret?: string }) => {
      printJson(await withDatabase(({ db, box }) => rotateSecret({ pool: db.pool, box }, repoName, { retireOld: opts.retireOld === true, secret: opts.secret }, 'cli')));
    });

  repo
    .command('remove <repo>')
    .description('unregister a repository (its hook stops answering)')
    .option('--json', 'print JSON (the default)')
    .action(async (repoName: string) => {
      printJson(await withDatabase(({ db }) => removeRepository({ pool: db.pool }, repoName, 'cli')));
    });
}
