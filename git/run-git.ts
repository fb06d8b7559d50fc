import { spawnThrough } from './spawner.ts';

// Git never prompts, never runs repository hooks, and never reads the user's config.
const BASE_ENV = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: '/nonexistent',
  GIT_TERMINAL_PROMPT: '0',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  LANG: 'C',
};

export interface GitOptions {
  cwd?: string;
  /** `name=value` settings for this command only (credentials are passed this way, never stored). */
  config?: string[];
  input?: string;
}

/**
 * git's arguments and environment for a command: hooks off, and the settings
 * for this command only. The settings go in the environment (GIT_CONFIG_COUNT,
 * git 2.31 and later), never on the command line: a command line is readable
 * by every user of the machine in /proc, a step's user under `--run-as` too,
 * and the settings carry the forge's token.
 */
export function gitInvocation(args: string[], opts: GitOptions = {}): { args: string[]; env: Record<string, string> } {
  const env: Record<string, string> = { ...BASE_ENV };
  const config = opts.config ?? [];
  config.forEach((setting, i) => {
    const at = setting.indexOf('=');
    env[`GIT_CONFIG_KEY_${i}`] = at < 0 ? setting : setting.slice(0, at);
    env[`GIT_CONFIG_VALUE_${i}`] = at < 0 ? 'true' : setting.slice(at + 1);
  });
  if (config.length) env.GIT_CONFIG_COUNT = String(config.length);
  return { args: ['-c', 'core.hooksPath=/dev/null', ...args], env };
}

/** A git command's output as bytes (`cat-file --batch` of binary blobs). */
export async function gitBytes(args: string[], opts: GitOptions = {}): Promise<Buffer> {
  const command = gitInvocation(args, opts);
  // Started by the small spawner process: a fork of this (large) process would cost several times more.
  const result = await spawnThrough('git', command.args, { cwd: opts.cwd, env: command.env, input: opts.input });
  if (result.exitCode !== 0) {
    throw new Error(`git ${args[0]} failed (${result.exitCode}): ${result.stderr.toString().trim()}`);
  }
  return result.stdout;
}

export async function git(args: string[], opts: GitOptions = {}): Promise<string> {
  return (await gitBytes(args, opts)).toString();
}
