import type { Command } from 'commander';
import { approveStage, cancelRun, rerunRun, triggerManual } from '../../scheduler/index.ts';
import { positiveInt, printJson } from '../shared.ts';
import { CLI_ACTOR, withRuntime } from '../with-runtime.ts';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function runCommands(program: Command): void {
  program
    .command('approve <run> <stage>')
    .description('approve a waiting stage: a deployment, or a pull request from a fork')
    .option('--as <name>', 'the approver recorded (default: the CLI user)')
    .action(async (run: string, stage: string, opts: { as?: string }) => {
      printJson(await withRuntime((rt) => approveStage(rt.deps, positiveInt(run), stage, opts.as ?? CLI_ACTOR)));
    });

  program
    .command('cancel <run>')
    .description('cancel a run: its queued and waiting stages, and the process trees of its running ones')
    .action(async (run: string) => {
      const result = await withRuntime((rt) => cancelRun(rt.deps, positiveInt(run), CLI_ACTOR));
      if (!result) throw new Error(`no run ${run}`);
      printJson(result);
    });

  program
    .command('rerun <run>')
    .description('run a finished run again (same id, next attempt), or one stage and its dependents')
    .option('--stage <name>', 'only this stage and the stages that need it')
    .action(async (run: string, opts: { stage?: string }) => {
      printJson(await withRuntime((rt) => rerunRun(rt.deps, positiveInt(run), CLI_ACTOR, opts.stage)));
    });

  program
    .command('trigger')
    .description('start pipelines with an on.manual trigger at a branch, tag or commit')
    .requiredOption('--repo <repo>', 'repository id or full name')
    .requiredOption('--ref <ref>', 'branch, tag or commit id')
    .option('--pipeline <name>', 'only this pipeline')
    .option('--input <name=value>', 'an input (repeatable)', collect, [])
    .option('--json', 'print JSON (the default)')
    .action(async (opts: { repo: string; ref: string; pipeline?: string; input: string[] }) => {
      const inputs = Object.fromEntries(opts.input.map((kv) => {
        const at = kv.indexOf('=');
        if (at < 1) throw new Error(`--input ${kv}: write name=value`);
        return [kv.slice(0, at), kv.slice(at + 1)];
      }));
      printJson(await withRuntime((rt) => triggerManual(rt.deps, { repo: opts.repo, ref: opts.ref, pipeline: opts.pipeline, inputs }, CLI_ACTOR)));
    });
}
