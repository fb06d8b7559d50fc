import { homedir } from 'node:os';
import path from 'node:path';

/**
 * Where Forgeline keeps its data and the CLI its settings, after the XDG base
 * directories: never the working directory, which is often a repository with
 * its own `.forgeline/` folder of pipeline files.
 */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.XDG_DATA_HOME) return path.join(env.XDG_DATA_HOME, 'forgeline');
  // As root the embedded PostgreSQL runs as the `postgres` user, who cannot enter root's
  // home (0700): a system service keeps its state under /var/lib, as Debian's packages do.
  if (process.getuid?.() === 0) return '/var/lib/forgeline';
  return path.join(env.HOME || homedir(), '.local', 'share', 'forgeline');
}

/** `$XDG_CONFIG_HOME/forgeline/config.json`: the server URL and token the CLI uses. */
export function cliConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || path.join(env.HOME || homedir(), '.config');
  return path.join(base, 'forgeline', 'config.json');
}
