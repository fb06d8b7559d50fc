import type { Command } from 'commander';
import { addSource, removeSource, rotateSourceSecret } from '../../scheduler/index.ts';
import { repos, sources } from '../../store/index.ts';
import { printJson } from '../shared.ts';
import { CLI_ACTOR, withRuntime } from '../with-runtime.ts';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

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
      printJson(await withRuntime((rt) => addSource(rt.deps, { ...opts, allowCidrs: opts.allowCidr }, CLI_ACTOR)));
    });
  source
    .command('list')
    .option('--repo <repo>', 'only this repository\'s')
    .option('--json', 'print JSON')
    .action(async (opts: { repo?: string; json?: boolean }) => {
      const list = await withRuntime(async (rt) => {
        const repo = opts.repo ? await repos.findRepo(rt.db.pool, opts.repo) : null;
        if (opts.repo && !repo) throw new Error(`no repository ${opts.repo}`);
        return sources.listSources(rt.db.pool, repo?.id ?? null);
      });
      if (opts.json) return printJson(list.map(({ hookId: _h, ...s }) => s));
      for (const s of list) process.stdout.write(`${s.repo}\t${s.name}\t${s.auth}\t${s.typeFrom ?? ''}\n`);
    });
  source
    .command('remove <name>')
    .requiredOption('--repo <repo>', 'repository id or full name')
    .action(async (name: string, opts: { repo: string }) => {
      if (!(await withRuntime((rt) => removeSource(rt.db.pool, opts.repo, name, CLI_ACTOR)))) throw new Error(`no source ${name}`);
    });
  source
    .command('rotate-secret <name>')
    .requiredOption('--repo <repo>', 'repository id or full name')
    .option('--retire-old', 'finish a rotation: only the newest secret stays valid')
    .action(async (name: string, opts: { repo: string; retireOld?: boolean }) => {
      printJson(await withRuntime((rt) => rotateSourceSecret(rt.deps, opts.repo, name, { retireOld: opts.retireOld === true }, CLI_ACTOR)));
    });
}
