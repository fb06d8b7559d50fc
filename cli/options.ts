import { InvalidArgumentError, Option } from 'commander';
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

/** `--container-network NAME`: the network of stage containers (docker back end). */
export function containerNetworkOption(): Option {
  return new Option('--container-network <name>', 'the network stage containers join (none, host, or a network of the engine; default: the engine\'s)');
}
