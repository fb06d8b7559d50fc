import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import type { EventExplain } from '../../pipelines/index.ts';
import { forgeNames } from '../../providers/index.ts';
import { explainPayload } from '../../scheduler/index.ts';
import { printJson } from '../output.ts';

function describeEvent(e: EventExplain['event']): string {
  const what = e.kind === 'pull_request' ? `pull request #${e.pullRequest?.number} ${e.action}` : e.kind === 'tag' ? `tag ${e.tag}` : `${e.kind} to ${e.branch}`;
  return `${what} at ${e.sha?.slice(0, 12) ?? '(deleted)'}`;
}

function print(events: EventExplain[]): void {
  for (const entry of events) {
    process.stdout.write(`${describeEvent(entry.event)}${entry.reason ? `: ${entry.reason}` : ''}\n`);
    for (const p of entry.pipelines) {
      process.stdout.write(`  ${p.triggered ? 'runs     ' : 'skipped  '} ${p.name} (${p.file}): ${p.reason}\n`);
      for (const problem of p.problems?.slice(1) ?? []) process.stdout.write(`             ${problem}\n`);
      for (const s of p.stages) process.stdout.write(`    ${s.runs ? 'runs   ' : 'skipped'} ${s.name}: ${s.reason}\n`);
    }
  }
}

export function explainCommand(program: Command): void {
  program
    .command('explain')
    .description('say which pipelines and stages a payload would run, and which filter rejected the others')
    .requiredOption('--forge <forge>', forgeNames().join(', '))
    .requiredOption('--event-header <value>', 'the value of the forge\'s event header (X-GitHub-Event: push, X-Gitlab-Event: Push Hook, …)')
    .requiredOption('--payload <file>', 'the JSON body')
    .option('--dir <dir>', 'the git repository whose pipeline files to read (default: the current directory)')
    .addOption(new Option('--repo <dir>', 'the former name of --dir').hideHelp())
    .option('--json', 'print {"events": [{"event", "pipelines": [{"name", "file", "triggered", "reason", "stages": [...]}]}]}')
    .action(async (opts: { forge: string; eventHeader: string; payload: string; dir?: string; repo?: string; json?: boolean }) => {
      const result = await explainPayload({ forge: opts.forge, eventHeader: opts.eventHeader, payload: await readFile(opts.payload), dir: opts.dir ?? opts.repo ?? '.' });
      if (opts.json) return printJson(result);
      if (result.ignored) process.stdout.write(`ignored: ${result.ignored}\n`);
      print(result.events);
    });
}
