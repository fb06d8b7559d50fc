import type { Command } from 'commander';
import { registerRepo } from '../../scheduler/index.ts';
import { connectDatabase, loadSecretKey, migrate, repos, secretBox } from '../../store/index.ts';
import { readConfig } from '../config.ts';
import { printJson } from '../shared.ts';

async function withDatabase<T>(fn: (ctx: { config: ReturnType<typeof readConfig>; db: Awaited<ReturnType<typeof connectDatabase>> }) => Promise<T>): Promise<T> {
  const config = readConfig();
  const db = await connectDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: 2 });
  try {
    await migrate(db.pool);
    return await fn({ config, db });
  } finally {
    await db.close();
  }
}

export function repoCommand(program: Command): void {
  const repo = program.command('repo').description('manage registered repositories');

  repo
    .command('add')
    .description('register a repository; prints {"id", "hookUrl", "secret"}')
    .requiredOption('--forge <forge>', 'github')
    .requiredOption('--name <owner/repo>', 'the repository’s full name')
    .option('--clone-url <url>', 'where to fetch commits from (default: the forge’s public URL)')
    .option('--api-url <url>', 'the forge’s API base (default: the public forge’s)')
    .option('--token-env <VAR>', 'read the API token from this environment variable')
    .option('--secret <secret>', 'the webhook secret (default: random)')
    .option('--fork-prs <policy>', 'approve, run or ignore', 'approve')
    .option('--json', 'print JSON (the default)')
    .action(async (opts: { forge: string; name: string; cloneUrl?: string; apiUrl?: string; tokenEnv?: string; secret?: string; forkPrs: string }) => {
      let token: string | null = null;
      if (opts.tokenEnv) {
        token = process.env[opts.tokenEnv] ?? null;
        if (!token) throw new Error(`--token-env ${opts.tokenEnv}: that variable is empty or not set`);
      }
      const result = await withDatabase(async ({ config, db }) => registerRepo(
        { pool: db.pool, box: secretBox(await loadSecretKey(config.dataDir, config.secretKey)), publicUrl: config.publicUrl, urls: config.urls },
        { forge: opts.forge, name: opts.name, cloneUrl: opts.cloneUrl, apiUrl: opts.apiUrl, token, secret: opts.secret, forkPrs: opts.forkPrs },
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
}
