import { InvalidArgumentError, Option, type Command } from 'commander';
import { parseSize } from '../pipelines/index.ts';
import { backendNames } from '../runners/index.ts';

// Parsers of command-line options, shared by the commands.

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number');
  return n;
}

/** A repeatable option's values. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `--input name=value` options as an object, or an error naming the one that is not. */
export function inputsOf(pairs: string[]): Record<string, string> {
  return Object.fromEntries(pairs.map((kv) => {
    const at = kv.indexOf('=');
    if (at < 1) throw new Error(`--input ${kv}: write name=value`);
    return [kv.slice(0, at), kv.slice(at + 1)];
  }));
}

/** `--backend NAME`: where this process runs stages; the names come from runners/backends/. */
export function backendOption(): Option {
  return new Option('--backend <name>', 'where steps run').choices(backendNames()).default('local');
}

/** The container back end's worker flags: `--container-network`, `--cpus`, `--memory` (a stage's `resources` override the last two). */
export function addContainerOptions(command: Command): Command {
  for (const option of [
    new Option('--container-network <name>', 'the network stage containers join (none, host, or a network of the engine; default: the engine\'s)'),
    new Option('--cpus <n>', 'CPUs of a stage\'s containers unless its resources say otherwise (docker back end)').argParser((v: string) => {
      const n = Number(v);
      if (!(n > 0)) throw new InvalidArgumentError('must be a number above 0, like 2 or 0.5');
      return n;
    }),
    new Option('--memory <size>', 'memory of a stage\'s containers unless its resources say otherwise, like 2g or 512m (docker back end)').argParser((v: string) => {
      const bytes = parseSize(v);
      if (bytes === null || bytes < 6 * 1024 * 1024) throw new InvalidArgumentError('write a size of at least 6m, like 512m or 2g');
      return bytes;
    }),
  ]) command.addOption(option);
  return command;
}

/** `--db-connections <n>`: the most connections the process opens to PostgreSQL (cli/runtime.ts, DB_CONNECTIONS). */
export function dbConnectionsOption(fallback: number): Option {
  return new Option('--db-connections <n>', 'the most connections this process opens to PostgreSQL, all included').argParser(positiveInt).default(fallback);
}
