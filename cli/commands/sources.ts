import type { Command } from 'commander';
import { ApiClient, seg } from '../client.ts';
import { collect } from '../options.ts';
import { printJson, printTable } from '../output.ts';

export function sourceCommands(program: Command): void {
  const source = program.command('source').description('generic webhook sources: a helpdesk, a payment provider, any service that can call a URL');
  source
    .command('add')
    .description('register a source; prints {"id", "hookUrl", "secret"}')
    .requiredOption('--repo <repo>', 'the repository whose pipelines it starts')
    .requiredOption('--name <name>', 'the source\'s name, as on.webhook.sources names it')
    .requiredOption('--auth <auth>', 'hmac, standard-webhooks or bearer')
    .option('--secret <secret>', 'the shared secret (default: random; whsec_… for standard-webhooks)')
    .option('--signature-header <header>', 'hmac: the header with sha256=<hex> or <hex> of the body (default X-Signature)')
    .option('--type-from <spec>', 'the event type: a header name or a $.json.path')
    .option('--id-from <spec>', 'the delivery id: a header name or a $.json.path')
    .option('--allow-cidr <cidr>', 'only these source addresses (repeatable)', collect, [])
    .option('--json', 'print JSON (the default)')
    .action(async (opts: { repo: string; name: string; auth: string; secret?: string; signatureHeader?: string; typeFrom?: string; idFrom?: string; allowCidr: string[] }) => {
      const { repo, allowCidr, ...source } = opts;
      printJson(await new ApiClient().json('POST', `/api/repos/${seg(repo)}/sources`, { ...source, allowCidrs: allowCidr }));
    });
  source
    .command('list')
    .requiredOption('--repo <repo>', 'repository id or full name')
    .option('--json', 'print JSON')
    .action(async (opts: { repo: string; json?: boolean }) => {
      const { items } = await new ApiClient().json<{ items: Array<{ repo: string; name: string; auth: string; typeFrom: string | null; hookUrl?: string }> }>('GET', `/api/repos/${seg(opts.repo)}/sources`);
      if (opts.json) return printJson(items);
      printTable(['NAME', 'AUTH', 'TYPE FROM'], items.map((s) => [s.name, s.auth, s.typeFrom]));
    });
  source
    .command('remove <name>')
    .requiredOption('--repo <repo>', 'repository id or full name')
    .action(async (name: string, opts: { repo: string }) => {
      await new ApiClient().json('DELETE', `/api/repos/${seg(opts.repo)}/sources/${seg(name)}`);
    });
  source
    .command('rotate-secret <name>')
    .requiredOption('--repo <repo>', 'repository id or full name')
    .option('--retire-old', 'finish a rotation: only the newest secret stays valid')
    .action(async (name: string, opts: { repo: string; retireOld?: boolean }) => {
      printJson(await new ApiClient().json('POST', `/api/repos/${seg(opts.repo)}/sources/${seg(name)}/rotate-secret`, { retireOld: opts.retireOld === true }));
    });
}
