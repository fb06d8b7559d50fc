import type { Command } from 'commander';
import { ApiClient, writeCliConfig } from '../client.ts';

export function loginCommand(program: Command): void {
  program
    .command('login')
    .description('check a token against a server and keep both in the CLI\'s config (mode 0600)')
    .requiredOption('--token <token>', 'an API token (forgeline token add NAME --role ROLE prints one)')
    .addHelpText('after', '\nGive the server with --server URL (e.g. http://localhost:8080) or FORGELINE_SERVER.')
    .action(async (opts: { token: string }) => {
      const client = new ApiClient({ ...process.env, FORGELINE_TOKEN: opts.token });
      const who = await client.json<{ name: string; role: string }>('GET', '/api/token');
      const file = await writeCliConfig({ server: client.server, token: opts.token });
      process.stdout.write(`logged in to ${client.server} as ${who.name} (${who.role}); saved in ${file}\n`);
    });
}
