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

/** git's arguments and environment for a command: hooks off, and the settings for this command only. */
export function gitInvocation(args: string[], opts: GitOptions = {}): { args: string[]; env: Record<string, string> } {
  const config = ['core.hooksPath=/dev/null', ...(opts.config ?? [])].flatMap((c) => ['-c', c]);
  return { args: [...config, ...args], env: BASE_ENV };
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
